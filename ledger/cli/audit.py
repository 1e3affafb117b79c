"""The integrity commands: ``ledger checkpoint``, ``ledger export``, ``ledger verify``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.cli.database import CommandError, note_new_signing_key, require_migrated
from ledger.cli.progress import progress
from ledger.cli.report import report_lines
from ledger.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ledger.bootstrap import Ledger
    from ledger.integrity.bundle_report import VerifyReport


def _open(settings: Settings) -> Ledger:
    from ledger.bootstrap import build_ledger

    require_migrated(settings)
    return build_ledger(settings)


def cmd_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    existed = settings.signing_key_file.is_file()
    ledger = _open(settings)
    try:
        stored, made = ledger.integrity.checkpoint()
        info = ledger.integrity.key_info()
    finally:
        ledger.close()
    note_new_signing_key(settings, existed)
    assert stored is not None
    cp = stored.checkpoint
    what = "made checkpoint" if made else "the log is already covered by checkpoint"
    print(f"{what} {cp.tree_size} (key {info['key_id']})", file=sys.stderr)
    print(f"public key (base64): {info['public_key']}", file=sys.stderr)
    # Alone on stdout, so `ledger checkpoint > cp.json` is a file `ledger verify
    # --checkpoint` accepts.
    print(json.dumps(cp.to_dict()))
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    existed = settings.signing_key_file.is_file()
    ledger = _open(settings)
    try:
        export = ledger.integrity.export(args.after, args.until)
        note_new_signing_key(settings, existed)
        if export.made is not None:
            print(
                f"no checkpoint reached event {export.until}: made checkpoint "
                f"{export.made.tree_size} first",
                file=sys.stderr,
            )
        target = Path(args.output) if args.output else None
        partial = target.with_name(target.name + ".partial") if target else None
        out = open(partial, "wb") if partial else sys.stdout.buffer  # noqa: SIM115
        try:
            with progress("export", export.events, quiet=args.quiet) as bar:
                pending = 0
                for line in export.lines():
                    out.write(line)
                    if line.startswith(b'{"kind":"event"'):
                        pending += 1
                        if pending == 1000:
                            bar.update(pending)
                            pending = 0
                bar.update(pending)
            out.flush()
        finally:
            if partial:
                out.close()
        # Renamed only when complete: a FILE that exists is a whole bundle.
        if target and partial:
            os.replace(partial, target)
            print(f"wrote events {export.after + 1}..{export.until} to {target}", file=sys.stderr)
    finally:
        ledger.close()
    return 0


def _public_key_arg(value: str) -> bytes | str:
    """``--public-key``: base64 text, or a file holding it (raw 32 bytes, base64, or the
    JSON of ``GET /v1/audit/checkpoints``)."""
    path = Path(value)
    if not path.is_file():
        return value
    data = path.read_bytes()
    try:
        doc = json.loads(data)
    except ValueError:
        return data if len(data) == 32 else data.strip()
    if isinstance(doc, dict) and isinstance(doc.get("public_key"), str):
        return str(doc["public_key"])
    raise ValueError(f"{value}: JSON without a public_key")


def _checkpoint_arg(value: str) -> dict[str, Any]:
    """``--checkpoint``: a checkpoint as JSON — printed by ``ledger checkpoint``, a bundle's
    checkpoint line, or a response holding one under ``checkpoint``."""
    doc = json.loads(Path(value).read_text())
    if isinstance(doc, dict) and isinstance(doc.get("checkpoint"), dict):
        doc = doc["checkpoint"]
    if not isinstance(doc, dict):
        raise ValueError(f"{value}: not a JSON object")
    doc.pop("kind", None)
    return doc


def _key_id(public_key: bytes | str | None) -> str | None:
    """The id of the key given with ``--public-key``, if it is one (the verifier
    reports a malformed key itself)."""
    from ledger.integrity.checkpoints import key_id_for, parse_public_key

    if public_key is None:
        return None
    try:
        return key_id_for(parse_public_key(public_key))
    except ValueError:
        return None


def _database_key_note(engine: Engine, pinned_key_id: str | None) -> list[str]:
    """With a pinned key that signed nothing here, name the key that did: otherwise the
    report only says the events are not covered by a signature."""
    from ledger.integrity.store import IntegrityStore

    if pinned_key_id is None:
        return []
    with engine.connect() as conn:
        latest = IntegrityStore(engine).latest(conn)
    if latest is None or latest.key_id == pinned_key_id:
        return []
    return [
        f"the database's latest checkpoint ({latest.tree_size}) is signed by key "
        f"{latest.key_id}, not by the pinned key {pinned_key_id}: is --public-key this "
        "ledger's key?"
    ]


def cmd_verify(args: argparse.Namespace, _: Settings | None) -> int:
    from ledger.integrity.bundle_verify import verify_bundle_file

    if args.proof is not None:
        return _verify_proof(args)
    url: str | None = args.verify_database or (args.database if args.bundle is None else None)
    if (args.bundle is None) == (url is None):
        raise CommandError("verify: give a BUNDLE file, --database URL or --proof FILE")
    try:
        public_key = _public_key_arg(args.public_key) if args.public_key else None
        trusted = _checkpoint_arg(args.checkpoint) if args.checkpoint else None
    except (OSError, ValueError) as exc:
        raise CommandError(f"verify: {exc}") from None
    pinned_key_id = _key_id(public_key)
    notes: list[str] = []
    report: VerifyReport
    with progress("verify", quiet=args.quiet) as bar:

        def advance(count: int) -> None:
            bar.update(count - bar.n)

        if args.bundle is not None:
            report = verify_bundle_file(args.bundle, public_key, trusted, advance)
            source = args.bundle
        else:
            assert url is not None
            from ledger.bootstrap import make_engine
            from ledger.integrity.verify_live import verify_database

            live = Settings(database_url=url)
            require_migrated(live)
            engine = make_engine(live)
            try:
                report = verify_database(
                    engine,
                    public_key=public_key,
                    trusted_checkpoint=trusted,
                    signing_key_file=live.signing_key_file,
                    progress=advance,
                )
                notes = _database_key_note(engine, pinned_key_id)
            finally:
                engine.dispose()
            source = "database " + url.split("@")[-1]
    if args.json:
        data = report.to_dict()
        data.setdefault("pinned_key_id", pinned_key_id)
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(report_lines(report, source, pinned_key_id, notes)))
    return report.exit_code


def _verify_proof(args: argparse.Namespace) -> int:
    """``verify --proof FILE``: one inclusion or consistency proof as the API served it."""
    from ledger.integrity.proof_check import verify_proof_document

    if args.bundle is not None or args.verify_database is not None:
        raise CommandError("verify: give a BUNDLE file, --database URL or --proof FILE")
    try:
        public_key = _public_key_arg(args.public_key) if args.public_key else None
        doc = json.loads(Path(args.proof).read_text())
    except (OSError, ValueError) as exc:
        raise CommandError(f"verify: {exc}") from None
    report = verify_proof_document(doc, public_key)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        pinned = _key_id(public_key)
        print("\n".join(report_lines(report, f"proof {args.proof}", pinned, [])))
    return report.exit_code


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser(
        "checkpoint",
        help="sign a checkpoint of the log now; prints it as JSON on stdout",
        description="Sign a checkpoint of the log now. The checkpoint is printed alone on "
        "stdout (`ledger checkpoint > cp.json`, for `verify --checkpoint`); the key id and "
        "public key go to stderr.",
    )
    c.set_defaults(func=cmd_checkpoint)

    e = sub.add_parser(
        "export",
        help="write an audit bundle (NDJSON) for offline verification",
        description="Write an audit bundle: the events of a range, the checkpoints covering "
        "it and the proofs between them. Signs a checkpoint first if none reaches --until.",
    )
    e.add_argument(
        "--after", type=int, default=0, metavar="N", help="start after this position (default 0)"
    )
    e.add_argument("--until", type=int, metavar="N", help="last position (default: the head)")
    e.add_argument(
        "-o", "--output", metavar="FILE", help="file to write (default: standard output)"
    )
    e.add_argument("--quiet", action="store_true", help="show no progress on stderr")
    e.set_defaults(func=cmd_export)

    v = sub.add_parser(
        "verify",
        help="verify a bundle offline, or a live database; exit 0 clean, 1 tampered, "
        "2 incomplete, 3 could not run",
        description="Recompute every hash, link, checkpoint root, signature and proof. "
        "Exit 0 clean, 1 tampered, 2 incomplete, 3 could not run.",
    )
    v.add_argument("bundle", nargs="?", metavar="BUNDLE", help="a bundle file from `ledger export`")
    v.add_argument(
        "--database",
        dest="verify_database",
        metavar="URL",
        help="verify this database instead of a bundle",
    )
    v.add_argument(
        "--public-key",
        metavar="B64|FILE",
        help="the ledger's public key to trust: base64, or a file holding it "
        "(raw, base64, or the JSON of GET /v1/audit/checkpoints)",
    )
    v.add_argument(
        "--checkpoint",
        metavar="JSON_FILE",
        help="a checkpoint obtained earlier and trusted (from `ledger checkpoint`)",
    )
    v.add_argument(
        "--proof",
        metavar="JSON_FILE",
        help="verify one proof instead: the JSON of GET /v1/audit/proof/{event_id} or "
        "GET /v1/audit/consistency (pin the key with --public-key)",
    )
    v.add_argument("--json", action="store_true", help="print the full report as JSON")
    v.add_argument("--quiet", action="store_true", help="show no progress on stderr")
    v.set_defaults(func=cmd_verify)
