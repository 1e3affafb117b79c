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
    if getattr(args, "format", "bundle") == "epcis":
        from ledger.cli.epcis import cmd_export_epcis

        return cmd_export_epcis(args, settings)
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
    checkpoint line, or a response holding one under ``checkpoint`` — or as the C2SP note
    of ``GET /v1/audit/checkpoint`` (see :func:`_note_checkpoint`)."""
    text = Path(value).read_text()
    if not text.lstrip().startswith("{"):
        return _note_checkpoint(text)
    doc = json.loads(text)
    if isinstance(doc, dict) and isinstance(doc.get("checkpoint"), dict):
        doc = doc["checkpoint"]
    if not isinstance(doc, dict):
        raise ValueError(f"{value}: not a JSON object")
    doc.pop("kind", None)
    return doc


def _note_checkpoint(text: str) -> dict[str, Any]:
    """A C2SP checkpoint note as a trusted checkpoint: the verifier needs its size and
    root; its signature is checked here against the key the note names (``--public-key``
    then pins that key, since the origin carries the key id)."""
    from ledger.integrity.notes import CheckpointBody, Note

    note = Note.parse(text)
    body = CheckpointBody.parse(note.text)
    return {"kind": "note", "tree_size": body.tree_size, "root": body.root.hex(), "note": text}


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
    if args.evidence is not None:
        return _verify_evidence(args)
    if args.note is not None:
        return _verify_note(args)
    url: str | None = args.verify_database or (args.database if args.bundle is None else None)
    if (args.bundle is None) == (url is None):
        raise CommandError("verify: give a BUNDLE file, --database URL or --proof FILE")
    try:
        public_key = _public_key_arg(args.public_key) if args.public_key else None
        trusted = _checkpoint_arg(args.checkpoint) if args.checkpoint else None
    except (OSError, ValueError) as exc:
        raise CommandError(f"verify: {exc}") from None
    pinned_key_id = _key_id(public_key)
    if trusted is not None and trusted.get("kind") == "note":
        trusted = _trusted_from_note(trusted, public_key)
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


def _trusted_from_note(trusted: dict[str, Any], public_key: bytes | str | None) -> dict[str, Any]:
    """A trusted checkpoint given as a note, checked against the pinned key, turned into
    the JSON checkpoint of the same size and root that the bundle must contain."""
    from ledger.integrity.notes import Note, log_verifier, verify_signature

    if public_key is None:
        raise CommandError("verify: a --checkpoint note needs --public-key to check it with")
    from ledger.integrity.checkpoints import parse_public_key

    try:
        verifier = log_verifier(parse_public_key(public_key))
    except ValueError as exc:
        raise CommandError(f"verify: --public-key: {exc}") from None
    if verify_signature(Note.parse(trusted["note"]), verifier) is not True:
        raise CommandError(
            f"verify: the --checkpoint note is not signed by the pinned key ({verifier.name})"
        )
    return {"tree_size": trusted["tree_size"], "root": trusted["root"]}


def _witness_args(args: argparse.Namespace) -> tuple[list[Any], int]:
    from ledger.integrity.notes import NoteError, NoteVerifier

    try:
        witnesses = [NoteVerifier.parse(w) for w in args.witness or []]
    except NoteError as exc:
        raise CommandError(f"verify: --witness: {exc}") from None
    if args.quorum > len(witnesses):
        raise CommandError(f"verify: --quorum {args.quorum} needs that many --witness keys")
    return witnesses, args.quorum


def _verify_evidence(args: argparse.Namespace) -> int:
    """``verify --evidence FILE``: an evidence bundle of ``GET …/evidence``, offline."""
    from ledger.integrity.evidence_verify import verify_evidence

    try:
        public_key = _public_key_arg(args.public_key) if args.public_key else None
        doc = json.loads(Path(args.evidence).read_bytes())
    except (OSError, ValueError) as exc:
        raise CommandError(f"verify: {exc}") from None
    witnesses, quorum = _witness_args(args)
    report = verify_evidence(doc, public_key, witnesses, quorum)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join([f"evidence {args.evidence}", *report.lines()]))
    return report.exit_code


def _verify_note(args: argparse.Namespace) -> int:
    """``verify --note FILE``: a C2SP checkpoint note, its signature by the pinned key and
    the cosignatures of the trusted witnesses. Exit 0, 1 (bad signature, or too few
    cosignatures), 3 (malformed)."""
    from ledger.integrity.checkpoints import parse_public_key
    from ledger.integrity.notes import (
        CheckpointBody,
        Note,
        NoteError,
        count_cosigners,
        log_verifier,
        verify_signature,
    )

    if not args.public_key:
        raise CommandError("verify: --note needs --public-key")
    witnesses, quorum = _witness_args(args)
    try:
        verifier = log_verifier(parse_public_key(_public_key_arg(args.public_key)))
        note = Note.parse(Path(args.note).read_text())
        body = CheckpointBody.parse(note.text)
    except (OSError, ValueError, NoteError) as exc:
        print(f"ERROR: {exc}")
        return 3
    if verify_signature(note, verifier) is not True:
        print(f"TAMPERED: the note is not signed by {verifier.name}")
        return 1
    cosigners = count_cosigners(note, witnesses)
    print(f"checkpoint {body.tree_size} of {body.origin}: signature verifies")
    print(f"cosigned by {len(cosigners)} of {len(witnesses)} trusted witnesses", end="")
    print(f" ({', '.join(cosigners)})" if cosigners else "")
    if len(cosigners) < quorum:
        print(f"TAMPERED: {quorum} cosignatures required")
        return 1
    return 0


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
    _checkpoint_parser(sub)
    _export_parser(sub)
    _verify_parser(sub)
    _witness_parser(sub)


def _checkpoint_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser(
        "checkpoint",
        help="sign a checkpoint of the log now; prints it as JSON on stdout",
        description="Sign a checkpoint of the log now. The checkpoint is printed alone on "
        "stdout (`ledger checkpoint > cp.json`, for `verify --checkpoint`); the key id and "
        "public key go to stderr.",
    )
    c.set_defaults(func=cmd_checkpoint)


def _export_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    e.add_argument(
        "--format",
        choices=("bundle", "epcis"),
        default="bundle",
        help="bundle: the audit bundle (default); epcis: the events after --after as one "
        "GS1 EPCIS 2.0 document (JSON-LD, docs/epcis.md)",
    )
    e.set_defaults(func=cmd_export)


def _verify_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        help="a checkpoint obtained earlier and trusted: JSON (from `ledger checkpoint`) or "
        "the C2SP note of GET /v1/audit/checkpoint (then give --public-key)",
    )
    v.add_argument(
        "--proof",
        metavar="JSON_FILE",
        help="verify one proof instead: the JSON of GET /v1/audit/proof/{event_id} or "
        "GET /v1/audit/consistency (pin the key with --public-key)",
    )
    v.add_argument(
        "--evidence",
        metavar="JSON_FILE",
        help="verify an evidence bundle (GET /v1/assets/{id}/evidence, "
        "/v1/evidence/findings/{key}, /v1/contracts/{id}/evidence) offline: exit 0 "
        "verified, 10 bad signature, 11 event edited, 12 event removed, 13 event added, "
        "14 proof failed, 15 answer differs, 16 not covered, 17 quorum not met, 3 error",
    )
    v.add_argument(
        "--note",
        metavar="FILE",
        help="verify a C2SP checkpoint note (GET /v1/audit/checkpoint) and its cosignatures",
    )
    v.add_argument(
        "--witness",
        action="append",
        metavar="VKEY",
        help="a trusted witness's verifier key (name+id+base64); repeat for several",
    )
    v.add_argument(
        "--quorum",
        type=int,
        default=0,
        metavar="K",
        help="require cosignatures by at least K of the --witness keys",
    )
    v.add_argument("--json", action="store_true", help="print the full report as JSON")
    v.add_argument("--quiet", action="store_true", help="show no progress on stderr")
    v.set_defaults(func=cmd_verify)


def _witness_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    w = sub.add_parser(
        "witness",
        help="witness a ledger: follow its checkpoints, check consistency, cosign",
        description="Follow a ledger's C2SP checkpoints (GET /v1/audit/checkpoint), check "
        "each against the last one this witness cosigned with a consistency proof, cosign "
        "it (c2sp.org/tlog-cosignature) and send the cosignature back (POST "
        "/v1/audit/cosignatures). A split view, rollback or fork is reported and never "
        "cosigned. Exit 0, or 1 when one was seen, 3 could not run.",
    )
    w.add_argument("--log", required=True, metavar="URL", help="the ledger's base URL")
    w.add_argument(
        "--public-key", required=True, metavar="B64|FILE", help="the ledger's public key"
    )
    w.add_argument(
        "--key", required=True, metavar="FILE", help="this witness's Ed25519 key (made if absent)"
    )
    w.add_argument("--name", required=True, help="this witness's name, e.g. witness.example/w1")
    w.add_argument(
        "--state", required=True, metavar="FILE", help="where the witness keeps what it cosigned"
    )
    w.add_argument(
        "--api-key", metavar="KEY", help="an auditor key of the ledger (or LEDGER_WITNESS_API_KEY)"
    )
    w.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    w.add_argument("--once", action="store_true", help="one poll, then exit")
    w.set_defaults(func=cmd_witness)


def cmd_witness(args: argparse.Namespace, _: Settings | None) -> int:
    """``ledger witness``: see :mod:`ledger.integrity.witness`."""
    import time

    from ledger.integrity.checkpoints import KeyFileError, Signer, parse_public_key
    from ledger.integrity.notes import NoteError, log_verifier
    from ledger.integrity.witness import Follower, Witness, http_transport

    try:
        log = log_verifier(parse_public_key(_public_key_arg(args.public_key)))
        signer = Signer.from_file(args.key, create=True)
        witness = Witness(args.name, signer, {log.name: log}, Path(args.state))
    except (OSError, ValueError, KeyFileError, NoteError) as exc:
        raise CommandError(f"witness: {exc}") from None
    api_key = args.api_key or os.environ.get("LEDGER_WITNESS_API_KEY")
    follower = Follower(witness, log, http_transport(args.log, api_key))
    print(f"witness {witness.verifier.vkey()} following {log.name}", file=sys.stderr)
    alarmed = False
    while True:
        outcome = follower.step()
        stream = sys.stdout if outcome.kind == "cosigned" else sys.stderr
        if outcome.kind != "unchanged":
            label = "ALARM " if outcome.alarm else ""
            print(f"{label}{outcome.kind}: {outcome.detail}", file=stream, flush=True)
        alarmed = alarmed or outcome.alarm
        if args.once:
            return 1 if alarmed else (3 if outcome.kind == "error" else 0)
        time.sleep(args.interval)
