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
