"""The ``ledger`` command-line tool (SPEC.md §6)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ledger.errors import LedgerError
from ledger.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "database", None):
        overrides["database_url"] = args.database
    return Settings(**overrides)  # type: ignore[arg-type]


def cmd_migrate(args: argparse.Namespace) -> int:
    from ledger.migrate import upgrade

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
    from ledger.keys import KeyStore

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
        ledger.runner.follow(settings.projection_poll_seconds, listen)
    finally:
        ledger.close()
    return 0


def cmd_projections(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ledger.bootstrap import build_ledger
    from ledger.projections.runner import positions

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


def cmd_demo(args: argparse.Namespace) -> int:
    from ledger.bootstrap import build_ledger
    from ledger.demo import load_demo

    ledger = build_ledger(_settings(args))
    try:
        print(load_demo(ledger))
    finally:
        ledger.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ledger", description="Custody ledger")
    p.add_argument("--database", help="database URL (default: LEDGER_DATABASE_URL)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the HTTP API")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)

    m = sub.add_parser("migrate", help="apply database migrations")
    m.set_defaults(func=cmd_migrate)

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

    pr = sub.add_parser("project", help="projection worker: follow the log (PostgreSQL)")
    pr.set_defaults(func=cmd_project)

    ps = sub.add_parser("projections", help="projection status and rebuild")
    pss = ps.add_subparsers(dest="projections_command", required=True)
    pss.add_parser("status", help="each projection's position and lag")
    rb = pss.add_parser("rebuild", help="rebuild every projection from zero")
    rb.add_argument("--quiet", action="store_true", help="no progress bar")
    ps.set_defaults(func=cmd_projections)

    d = sub.add_parser("demo", help="load a small worked example")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except LedgerError as e:
        print(f"ledger: {e.detail}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
