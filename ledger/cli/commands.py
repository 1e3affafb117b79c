"""The ``ledger`` command-line tool (SPEC.md §6)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ledger.errors import LedgerError
from ledger.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "database", None):
        overrides["database_url"] = args.database
    return Settings(**overrides)  # type: ignore[arg-type]


def cmd_migrate(args: argparse.Namespace) -> int:
    from ledger.store.migrate import upgrade

    settings = _settings(args)
    if settings.is_sqlite:
        from ledger.bootstrap import make_engine

        make_engine(settings).dispose()  # creates the database's folder
    upgrade(settings.database_url)
    print(f"migrated {settings.database_url.split('@')[-1]} to head")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings(args)
    host = args.host or settings.host
    port = args.port or settings.port
    # The API is named by string: the application layer does not import the HTTP edge.
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        workers=settings.workers,
        proxy_headers=True,
    )
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from ledger.bootstrap import make_engine
    from ledger.writing.keys import KeyStore

    engine = make_engine(_settings(args))
    try:
        keys = KeyStore(engine)
        if args.keys_command == "create":
            key = keys.create(args.name, args.role, args.party)
            print(
                f"created key {args.name!r} with role {args.role}"
                + (f" for party {args.party}" if args.party else "")
            )
            print("store it now: it is shown once and kept only as a hash")
            print(key)
        elif args.keys_command == "list":
            for k in keys.list():
                state = f"revoked {k.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if k.revoked_at else "active"
                print(f"{k.name}\t{k.role}\t{k.party or '-'}\t{state}")
        elif args.keys_command == "revoke":
            keys.revoke(args.name)
            print(f"revoked key {args.name!r}")
    finally:
        engine.dispose()
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    import signal

    from ledger.bootstrap import build_ledger
    from ledger.projections.runner import PostgresListener

    settings = _settings(args)
    ledger = build_ledger(settings)
    listen = None
    if not settings.is_sqlite:
        from sqlalchemy.engine import make_url

        u = make_url(settings.database_url)
        conninfo = (
            f"host={u.host or '127.0.0.1'} port={u.port or 5432} dbname={u.database} "
            f"user={u.username or 'postgres'}" + (f" password={u.password}" if u.password else "")
        )
        listen = PostgresListener(conninfo, "ledger_events")

    def stop(*_: object) -> None:
        ledger.runner.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"following the log on {settings.database_url.split('@')[-1]}", flush=True)
    try:
        # Projection workers are the long-lived processes of a PostgreSQL deployment, so
        # they also make the periodic checkpoints (several workers take turns by lock).
        ledger.start_checkpoints()
        ledger.runner.follow(settings.projection_poll_seconds, listen)
    finally:
        ledger.close()
    return 0


def cmd_projections(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ledger.bootstrap import build_ledger
    from ledger.projections.tracking import positions

    ledger = build_ledger(_settings(args))
    try:
        head, _ = ledger.lookups.head()
        names = [p.name for p in ledger.runner.projections]
        if args.projections_command == "status":
            for name, position in positions(ledger.engine, names).items():
                print(f"{name}\tposition {position}\thead {head}\tlag {head - position}")
            return 0
        with tqdm(total=head * len(names), unit="ev", desc="rebuild", disable=args.quiet) as bar:

            def advance(n: int) -> None:
                bar.update(n)

            applied = ledger.runner.rebuild(advance)
        print(f"rebuilt {', '.join(names)}: {applied} event applications up to position {head}")
        return 0
    finally:
        ledger.close()


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ledger.bootstrap import build_ledger
    from ledger.writing.importing import import_events

    ledger = build_ledger(_settings(args))
    try:
        with open(args.file, "rb") as f:
            total = sum(1 for line in f if line.strip())
            f.seek(0)
            with tqdm(total=total, unit="ev", desc="import", disable=args.quiet) as bar:

                def advance(n: int) -> None:
                    bar.update(n)

                summary = import_events(ledger.appender, f, progress=advance)
        print(
            f"imported {args.file}: {summary.stored} new events, "
            f"{summary.replayed} already stored; log head at {ledger.lookups.head()[0]}"
        )
        return 0
    finally:
        ledger.close()


def cmd_demo(args: argparse.Namespace) -> int:
    from ledger.bootstrap import build_ledger
    from ledger.cli.demo import load_demo

    ledger = build_ledger(_settings(args))
    try:
        print(load_demo(ledger))
    finally:
        ledger.close()
    return 0


def cmd_checkpoint(args: argparse.Namespace) -> int:
    from ledger.bootstrap import build_ledger

    ledger = build_ledger(_settings(args))
    try:
        stored, made = ledger.integrity.checkpoint()
        info = ledger.integrity.key_info()
    finally:
        ledger.close()
    assert stored is not None
    cp = stored.checkpoint
    what = "made checkpoint" if made else "the log is already covered by checkpoint"
    print(f"{what} {cp.tree_size} (key {info['key_id']})", file=sys.stderr)
    print(f"public key (base64): {info['public_key']}", file=sys.stderr)
    # Alone on stdout, so `ledger checkpoint > cp.json` is a file `ledger verify
    # --checkpoint` accepts.
    print(json.dumps(cp.to_dict()))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ledger.bootstrap import build_ledger

    ledger = build_ledger(_settings(args))
    try:
        export = ledger.integrity.export(args.after, args.until)
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
            with tqdm(
                total=export.events, unit="ev", desc="export", disable=args.quiet, file=sys.stderr
            ) as bar:
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


def _print_report(report: Any, source: str) -> None:
    print(f"source: {source}")
    print(f"verdict: {report.verdict} (exit {report.exit_code})")
    if report.until is not None:
        span = (
            f"positions {report.after + 1}..{report.last_position}"
            if report.events
            else "no events"
        )
        print(f"events: {report.events} ({span}; range {report.after + 1}..{report.until})")
    print(
        f"checkpoints: {report.checkpoints}, consistency proofs: {report.consistency_proofs}, "
        f"inclusion proofs: {report.inclusion_proofs}, signed through: "
        f"{report.signed_through if report.signed_through is not None else 'nothing'}"
    )
    if report.key_id:
        pinned = (
            "pinned"
            if report.key_pinned
            else "not pinned: pass --public-key with the ledger's published key"
        )
        print(f"key: {report.key_id} ({pinned})")
    if report.verdict != "clean":
        if report.first_position is not None:
            print(f"first failing event: {report.first_position}: {report.reason}")
        else:
            print(f"problem: {report.reason}")
        for f in report.failures[:10]:
            where = ", ".join(
                part
                for part in (
                    f"event {f.position}" if f.position is not None else "",
                    f"line {f.line}" if f.line is not None else "",
                )
                if part
            )
            print(f"  - {f.verdict}{' (' + where + ')' if where else ''}: {f.reason}")
        if report.failures_total > 10:
            print(f"  … {report.failures_total - 10} more")


def cmd_verify(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ledger.integrity.bundle_verify import verify_bundle_file

    url: str | None = args.verify_database or (args.database if args.bundle is None else None)
    if (args.bundle is None) == (url is None):
        print("ledger verify: give a BUNDLE file or --database URL, not both", file=sys.stderr)
        return 3
    try:
        public_key = _public_key_arg(args.public_key) if args.public_key else None
        trusted = _checkpoint_arg(args.checkpoint) if args.checkpoint else None
    except (OSError, ValueError) as exc:
        print(f"ledger verify: {exc}", file=sys.stderr)
        return 3
    with tqdm(unit="ev", desc="verify", disable=args.quiet, file=sys.stderr) as bar:

        def progress(count: int) -> None:
            bar.update(count - bar.n)

        if args.bundle is not None:
            report = verify_bundle_file(args.bundle, public_key, trusted, progress)
            source = args.bundle
        else:
            assert url is not None
            from ledger.bootstrap import make_engine
            from ledger.integrity.verify_live import verify_database

            settings = Settings(database_url=url)
            engine = make_engine(settings)
            try:
                report = verify_database(
                    engine,
                    public_key=public_key,
                    trusted_checkpoint=trusted,
                    signing_key_file=settings.signing_key_file,
                    progress=progress,
                )
            finally:
                engine.dispose()
            source = "database " + url.split("@")[-1]
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(report, source)
    return report.exit_code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ledger", description="Custody ledger")
    p.add_argument("--database", help="database URL (default: LEDGER_DATABASE_URL)")
    sub = p.add_subparsers(dest="command", required=True)
    _add_server(sub)
    _add_keys(sub)
    _add_projections(sub)
    _add_loading(sub)
    _add_integrity(sub)
    return p


def _add_server(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("serve", help="run the HTTP API")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)

    m = sub.add_parser("migrate", help="apply database migrations")
    m.set_defaults(func=cmd_migrate)


def _add_keys(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    k = sub.add_parser("keys", help="create, list and revoke API keys")
    ks = k.add_subparsers(dest="keys_command", required=True)
    kc = ks.add_parser("create", help="create a key; prints it alone on the last line")
    kc.add_argument("--name", required=True)
    kc.add_argument(
        "--role", required=True, choices=["writer", "investigator", "auditor", "importer", "admin"]
    )
    kc.add_argument("--party", help="bind the key to a party (and the units under it)")
    ks.add_parser("list", help="list keys (never the keys themselves)")
    kr = ks.add_parser("revoke", help="revoke a key by name")
    kr.add_argument("name")
    k.set_defaults(func=cmd_keys)


def _add_projections(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pr = sub.add_parser("project", help="projection worker: follow the log (PostgreSQL)")
    pr.set_defaults(func=cmd_project)

    ps = sub.add_parser("projections", help="projection status and rebuild")
    pss = ps.add_subparsers(dest="projections_command", required=True)
    pss.add_parser("status", help="each projection's position and lag")
    rb = pss.add_parser("rebuild", help="rebuild every projection from zero")
    rb.add_argument("--quiet", action="store_true", help="no progress bar")
    ps.set_defaults(func=cmd_projections)


def _add_loading(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = sub.add_parser("demo", help="load a small worked example")
    d.set_defaults(func=cmd_demo)

    im = sub.add_parser("import", help="append events from an NDJSON file (one per line)")
    im.add_argument("file")
    im.add_argument("--quiet", action="store_true", help="no progress bar")
    im.set_defaults(func=cmd_import)


def _add_integrity(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = sub.add_parser("checkpoint", help="sign a checkpoint of the log now (prints it as JSON)")
    c.set_defaults(func=cmd_checkpoint)

    e = sub.add_parser("export", help="write an audit bundle (NDJSON) for offline verification")
    e.add_argument("--after", type=int, default=0, help="start after this position (default 0)")
    e.add_argument("--until", type=int, help="last position (default: the head)")
    e.add_argument("-o", "--output", help="file to write (default: standard output)")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_export)

    v = sub.add_parser(
        "verify",
        help="verify a bundle offline, or a live database; exit 0 clean, 1 tampered, "
        "2 incomplete, 3 could not run",
    )
    v.add_argument("bundle", nargs="?", help="a bundle file from `ledger export`")
    v.add_argument(
        "--database", dest="verify_database", help="verify this database instead of a bundle"
    )
    v.add_argument("--public-key", help="the ledger's public key: base64, or a file holding it")
    v.add_argument("--checkpoint", help="a checkpoint (JSON file) obtained earlier and trusted")
    v.add_argument("--json", action="store_true", help="print the full report as JSON")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.set_defaults(func=cmd_verify)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # argparse exits 2 on bad usage, which `ledger verify` reserves for "incomplete".
        words = list(sys.argv[1:] if argv is None else argv)
        if exc.code == 2 and "verify" in words:
            return 3
        raise
    try:
        return int(args.func(args))
    except LedgerError as e:
        print(f"ledger: {e.detail}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
