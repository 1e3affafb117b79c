"""The ``ledger`` command-line tool (SPEC.md §6).

Every command but ``migrate`` first checks that the database is migrated
(``ledger.cli.database``); a command that cannot go on prints one ``ledger: …`` line
on stderr and exits 2 (``verify``: 3, its "could not run"), never a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ledger.cli import audit
from ledger.cli.database import (
    CommandError,
    describe,
    note_new_signing_key,
    require_migrated,
    sqlite_file,
    where,
)
from ledger.cli.progress import progress
from ledger.errors import DuplicateError, LedgerError
from ledger.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ledger.bootstrap import Ledger
    from ledger.writing.keys import KeyInfo

ROLES = ("writer", "investigator", "auditor", "importer", "admin")


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "database", None):
        overrides["database_url"] = args.database
    return Settings(**overrides)  # type: ignore[arg-type]


def _open(settings: Settings) -> Ledger:
    from ledger.bootstrap import build_ledger

    require_migrated(settings)
    return build_ledger(settings)


def _prog() -> str:
    """How this tool was started, for commands it suggests: ``.venv/bin/ledger`` if so."""
    invoked = sys.argv[0] if sys.argv else ""
    return invoked if os.path.basename(invoked) == "ledger" else "ledger"


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from ledger.store.migrate import upgrade

    path = sqlite_file(settings)
    created = path is not None and not path.exists()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    if created:
        print(f"created the database {where(settings)}", file=sys.stderr)
    print(f"migrated {describe(settings)} to head")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    require_migrated(settings)
    host = args.host or settings.host
    port = args.port or settings.port
    print(f"serving the database {where(settings)}", file=sys.stderr, flush=True)
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


def _registered_party(engine: Engine, party: str) -> None:
    """Refuse a key bound to a party the log has not registered: it could report as
    no one (SPEC.md §2), and it is most often a typo."""
    import sqlalchemy as sa

    from domain.links import PARTY
    from ledger.store.tables import registry

    with engine.connect() as conn:
        known = [
            row.natural_id
            for row in conn.execute(
                sa.select(registry.c.natural_id).where(registry.c.kind == PARTY)
            )
        ]
    if party in known:
        return
    close = difflib.get_close_matches(party, known, n=3)
    names = ", ".join(close[:-1]) + " or " + close[-1] if len(close) > 1 else "".join(close)
    hint = f" (did you mean {names}?)" if close else ""
    raise CommandError(
        f"party {party!r} is not registered{hint}: a key bound to it could report as no "
        "one. Register the party first (a party_registered event, with an admin key), "
        "then make the key"
    )


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    from ledger.bootstrap import make_engine
    from ledger.writing.keys import KeyStore

    require_migrated(settings)
    engine = make_engine(settings)
    try:
        keys = KeyStore(engine)
        if args.keys_command == "create":
            if args.party:
                _registered_party(engine, args.party)
            try:
                key = keys.create(args.name, args.role, args.party)
            except DuplicateError as e:
                raise CommandError(
                    f"{e.detail}: names stay taken, even once revoked; pick another "
                    f"(`{_prog()} keys list` shows them)"
                ) from None
            print(
                f"created key {args.name!r} with role {args.role}"
                + (f" for party {args.party}" if args.party else "")
            )
            if args.role == "writer" and not args.party:
                print(
                    "warning: this writer key is bound to no party, so it may report as ANY "
                    "registered party (SPEC.md §2: only a key bound to a party is limited to "
                    "that party and the units under it); give --party P to limit it",
                    file=sys.stderr,
                )
            print("store it now: it is shown once and kept only as a hash")
            print(key)
        elif args.keys_command == "list":
            _print_keys(keys.list())
        elif args.keys_command == "revoke":
            keys.revoke(args.name)
            print(
                f"revoked key {args.name!r}: running servers refuse it within "
                f"{settings.key_cache_seconds:g} s (LEDGER_KEY_CACHE_SECONDS)"
            )
    finally:
        engine.dispose()
    return 0


def _print_keys(found: Sequence[KeyInfo]) -> None:
    rows = [("NAME", "ROLE", "PARTY", "CREATED", "STATE")]
    for k in found:
        rows.append(
            (
                k.name,
                k.role,
                k.party or "-",
                f"{k.created_at:%Y-%m-%dT%H:%M:%SZ}",
                f"revoked {k.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if k.revoked_at else "active",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[4]]))
    if len(rows) == 1:
        print(f"(no keys yet: {_prog()} keys create --name NAME --role ROLE)", file=sys.stderr)


def cmd_project(args: argparse.Namespace, settings: Settings) -> int:
    import signal

    from ledger.bootstrap import settle_for_a_long_run
    from ledger.projections.runner import PostgresListener

    ledger = _open(settings)
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
    print(f"following the log on {describe(settings)}", flush=True)
    try:
        # Projection workers are the long-lived processes of a PostgreSQL deployment, so
        # they also make the periodic checkpoints (several workers take turns by lock).
        ledger.start_checkpoints()
        ledger.timelines.start(settings.projection_poll_seconds)
        settle_for_a_long_run()
        ledger.runner.follow(settings.projection_poll_seconds, listen)
    finally:
        ledger.close()
    return 0


def cmd_projections(args: argparse.Namespace, settings: Settings) -> int:
    from ledger.bootstrap import settle_for_a_long_run
    from ledger.projections.tracking import positions

    ledger = _open(settings)
    try:
        head, _ = ledger.lookups.head()
        names = [p.name for p in ledger.runner.projections]
        if args.projections_command == "status":
            for name, position in positions(ledger.engine, names).items():
                print(f"{name}\tposition {position}\thead {head}\tlag {head - position}")
            return 0
        settle_for_a_long_run()
        with progress("rebuild", head * len(names), quiet=args.quiet) as bar:
            applied = ledger.runner.rebuild(bar.update)
        with progress("timelines", ledger.reads.asset_count(), quiet=args.quiet) as bar:
            stored = ledger.timelines.step(bar.update)
        print(
            f"rebuilt {', '.join(names)}: {applied} event applications up to position {head}; "
            f"{stored} timelines stored"
        )
        return 0
    finally:
        ledger.close()


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    if getattr(args, "format", "ndjson") == "epcis":
        from ledger.cli.epcis import cmd_import_epcis

        return cmd_import_epcis(args, settings)
    from ledger.writing.importing import import_events

    try:
        f = open(args.file, "rb")  # noqa: SIM115
    except OSError as e:
        raise CommandError(f"import: cannot read {args.file}: {e.strerror}") from None
    with f:
        existed = settings.signing_key_file.is_file()
        ledger = _open(settings)
        try:
            total = sum(1 for line in f if line.strip())
            f.seek(0)
            with progress("import", total, quiet=args.quiet) as bar:
                summary = import_events(ledger.appender, f, progress=bar.update)
            note_new_signing_key(settings, existed)
            print(
                f"imported {args.file}: {summary.stored} new events, "
                f"{summary.replayed} already stored; log head at {ledger.lookups.head()[0]}"
            )
        finally:
            ledger.close()
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from ledger.cli.demo import DemoConflictError, browser_base, load_demo, summary

    existed = settings.signing_key_file.is_file()
    ledger = _open(settings)
    try:
        if args.scale is not None:
            return _demo_at_scale(args, settings, ledger)
        loaded = load_demo(ledger)
    except DemoConflictError as e:
        raise CommandError(f"demo: {e}") from None
    finally:
        ledger.close()
        note_new_signing_key(settings, existed)
    base = browser_base(args.host or settings.host, args.port or settings.port)
    print(summary(loaded, base, describe(settings), _prog()))
    return 0


def _demo_at_scale(args: argparse.Namespace, settings: Settings, ledger: Ledger) -> int:
    """``demo --scale EVENTS``: a realistic generated world (``ledger.worlds.realistic``)."""
    from ledger.worlds.realistic import append_world

    if args.scale < 1:
        raise CommandError("demo: --scale must be a positive number of events")
    with progress("demo", args.scale, quiet=args.quiet) as bar:
        stored = append_world(ledger, args.scale, args.seed, progress=bar.update)
    print(
        f"appended {stored} new events of the generated world (seed {args.seed}, "
        f"{args.scale} events; ids start with w-) to {describe(settings)}; "
        "`ledger serve` (SQLite) or `ledger project` (PostgreSQL) derives custody and "
        "findings from them",
        file=sys.stderr,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ledger",
        description="Custody ledger: an event-sourced audit ledger of serialised assets.",
        epilog="Every setting is also an environment variable (LEDGER_DATABASE_URL, "
        "LEDGER_HOST, LEDGER_PORT, …; see the README). `ledger COMMAND --help` for more.",
    )
    p.add_argument(
        "--database",
        metavar="URL",
        help="database URL (default: LEDGER_DATABASE_URL, else sqlite:///data/ledger.db, "
        "which is relative to the current directory)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_server(sub)
    _add_keys(sub)
    _add_projections(sub)
    _add_loading(sub)
    audit.add_parsers(sub)
    return p


def _add_server(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser(
        "serve",
        help="run the HTTP API (on SQLite it also runs the projections)",
        description="Run the HTTP API and the /ui pages. On SQLite it also runs the "
        "projections and makes the periodic checkpoints.",
    )
    s.add_argument(
        "--host", metavar="HOST", help="address to listen on (default: LEDGER_HOST, 127.0.0.1)"
    )
    s.add_argument(
        "--port", type=int, metavar="PORT", help="port to listen on (default: LEDGER_PORT, 8000)"
    )
    s.set_defaults(func=cmd_serve)

    m = sub.add_parser(
        "migrate",
        help="create or upgrade the database's tables (Alembic migrations)",
        description="Apply the Alembic migrations. On SQLite it creates the database file "
        "(and its folder) if missing, and says where.",
    )
    m.set_defaults(func=cmd_migrate)


def _add_keys(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    k = sub.add_parser("keys", help="create, list and revoke API keys")
    ks = k.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    kc = ks.add_parser(
        "create",
        help="create a key; prints it alone on the last line",
        description="Create an API key. It is printed once, alone on the last line of "
        "stdout (`KEY=$(ledger keys create … | tail -1)`), and stored only as a hash.",
    )
    kc.add_argument("--name", required=True, help="a unique name (A-Za-z0-9._:-)")
    kc.add_argument(
        "--role",
        required=True,
        choices=ROLES,
        help="writer: append asset and contract events; importer: also a historical "
        "reported_at; investigator: read; auditor: read, the raw log and proofs; "
        "admin: everything, including reference data",
    )
    kc.add_argument(
        "--party",
        metavar="PARTY",
        help="bind the key to a registered party: it may then report only as that party "
        "or a unit under it",
    )
    ks.add_parser("list", help="list keys with role, party and state (never the keys themselves)")
    kr = ks.add_parser(
        "revoke",
        help="revoke a key by name",
        description="Revoke a key. Running servers refuse it within "
        "LEDGER_KEY_CACHE_SECONDS; the name stays taken.",
    )
    kr.add_argument("name", metavar="NAME", help="the key's name, as in `ledger keys list`")
    k.set_defaults(func=cmd_keys)


def _add_projections(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pr = sub.add_parser(
        "project",
        help="projection worker: follow the log (PostgreSQL)",
        description="Follow the log and apply it to the projections (LISTEN/NOTIFY plus "
        "polling); also makes the periodic checkpoints. Stops on SIGTERM or Ctrl-C.",
    )
    pr.set_defaults(func=cmd_project)

    ps = sub.add_parser("projections", help="projection status and rebuild")
    pss = ps.add_subparsers(dest="projections_command", required=True, metavar="ACTION")
    pss.add_parser("status", help="each projection's position and lag behind the log")
    rb = pss.add_parser("rebuild", help="rebuild every projection from zero")
    rb.add_argument("--quiet", action="store_true", help="show no progress on stderr")
    ps.set_defaults(func=cmd_projections)


def _add_loading(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = sub.add_parser(
        "demo",
        help="load the worked example (tanks under contract fms-iq-m1)",
        description="Load the worked example from the story and print the pages to open. "
        "It shares a database with other data (all its ids are its own); loading it again "
        "stores nothing new.",
    )
    d.add_argument(
        "--host",
        metavar="HOST",
        help="the host `ledger serve` listens on, for the addresses printed "
        "(default: LEDGER_HOST, 127.0.0.1)",
    )
    d.add_argument(
        "--port",
        type=int,
        metavar="PORT",
        help="the port `ledger serve` listens on, for the addresses printed "
        "(default: LEDGER_PORT, 8000)",
    )
    d.add_argument(
        "--scale",
        type=int,
        metavar="EVENTS",
        help="instead of the story, append a realistic generated world of about this "
        "many events (units, contracts, captures, repairs, late reports; see docs/worlds.md)",
    )
    d.add_argument(
        "--seed",
        type=int,
        default=1,
        metavar="S",
        help="the generated world's seed (default 1): the same seed gives the same world",
    )
    d.add_argument("--quiet", action="store_true", help="show no progress on stderr")
    d.set_defaults(func=cmd_demo)

    im = sub.add_parser(
        "import",
        help="append events from an NDJSON file (one per line)",
        description="Append events from earlier records, one JSON event per line, in "
        "atomic batches; stops at the first bad line, naming it. Re-running is safe: "
        "events already stored are skipped by event_id.",
    )
    im.add_argument(
        "file",
        metavar="FILE",
        help="an NDJSON file: one event per line (or, with --format epcis, an EPCIS 2.0 document)",
    )
    im.add_argument("--quiet", action="store_true", help="show no progress on stderr")
    im.add_argument(
        "--format",
        choices=("ndjson", "epcis"),
        default="ndjson",
        help="ndjson: one ledger event per line (default); epcis: one GS1 EPCIS 2.0 "
        "document, captured whole or not at all (docs/epcis.md)",
    )
    im.set_defaults(func=cmd_import)


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
    # `ledger verify` keeps 2 for "incomplete": its "could not run" is 3.
    failed = 3 if args.command == "verify" else 2
    from sqlalchemy.exc import OperationalError

    settings: Settings | None = None
    try:
        # An offline verify reads no settings: a bad LEDGER_* must not stop it.
        settings = None if args.command == "verify" else _settings(args)
        return int(args.func(args, settings))
    except ValidationError as e:
        for err in e.errors():
            name = "LEDGER_" + "_".join(str(x) for x in err["loc"]).upper()
            print(f"ledger: {name}: {err['msg']}", file=sys.stderr)
    except CommandError as e:
        print(f"ledger: {e}", file=sys.stderr)
    except LedgerError as e:
        print(f"ledger: {e.detail}", file=sys.stderr)
    except OperationalError as e:
        reason = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
        what = f" {describe(settings)}" if settings else ""
        print(f"ledger: cannot use the database{what}: {reason}", file=sys.stderr)
    return failed


if __name__ == "__main__":
    sys.exit(main())
