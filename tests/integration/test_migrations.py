"""``alembic upgrade head`` on an empty database gives exactly the schema the code
declares (``ledger.store.tables``), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ledger.settings import Settings
from ledger.store.tables import metadata


def test_upgrade_head_matches_the_declared_schema(settings: Settings) -> None:
    engine = sa.create_engine(settings.sqlalchemy_url())
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": False}
            )
            diff = compare_metadata(ctx, metadata)
            tables = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert diff == [], diff
    assert {t.name for t in metadata.sorted_tables} <= tables


def test_the_registrations_migration_files_what_the_projection_files(settings: Settings) -> None:
    """0010 files the registrations (and their amendments) the custody projection had
    applied under the old filing: the same rows the projection files now."""
    from alembic import command

    from domain.vocabulary import Role
    from ledger.bootstrap import build_ledger
    from ledger.store.migrate import alembic_config
    from ledger.store.tables import event_index
    from ledger.writing.principal import Principal
    from ledger.writing.wire import EVENT_ADAPTER
    from tests import wire

    ledger = build_ledger(settings)
    try:
        admin = Principal("admin", Role.ADMIN)
        events = [
            *wire.reference_world(),
            *(wire.asset(f"r{i}", event_id=f"reg-r{i}") for i in range(4)),
            wire.transfer(["r1"], "iq-army", "pmf", event_id="t-r1"),
            wire.correction("reg-r2", {"payload.model": "M1A2"}, event_id="fix-r2"),
            wire.retraction("reg-r3", event_id="undo-r3"),
        ]
        ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], admin)
        ledger.runner.catch_up()

        def filed() -> list[tuple[int, str]]:
            with ledger.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(event_index.c.position, event_index.c.event_id)
                    .where(event_index.c.subject == "registrations")
                    .order_by(event_index.c.position)
                )
                return [(int(p), str(e)) for p, e in rows]

        projected = filed()
        assert {e for _, e in projected} == {
            "reg-r0",
            "reg-r1",
            "reg-r2",
            "reg-r3",
            "fix-r2",
            "undo-r3",
        }
        cfg = alembic_config(settings.sqlalchemy_url())
        command.downgrade(cfg, "0009_part_serials")
        assert filed() == []
        command.upgrade(cfg, "head")
        assert filed() == projected
    finally:
        ledger.close()


def test_the_report_summaries_migration_fills_what_the_projections_write(
    settings: Settings,
) -> None:
    """0017 fills ``proj_findings.valid_to`` from each row's stored life,
    ``proj_event_amendments.summary`` from each amendment and its target, and
    ``proj_inventories`` from the inventories filed: what the projections write
    (ended findings and lasting ones, corrections and retractions alike)."""
    from alembic import command

    from domain.vocabulary import Role
    from ledger.bootstrap import build_ledger
    from ledger.cli.demo import load_demo
    from ledger.store.migrate import alembic_config
    from ledger.store.tables import event_amendments, findings, inventories
    from ledger.writing.principal import Principal
    from ledger.writing.wire import EVENT_ADAPTER
    from tests import wire

    ledger = build_ledger(settings)
    admin = Principal("admin", Role.ADMIN)
    try:
        load_demo(ledger)
        taken = wire.inventory(
            ["M1A1-001", "M1A1-002"], "iq-9th-armd", ("M1A1-002",), reporter="iq-9th-armd"
        )
        ledger.appender.append([EVENT_ADAPTER.validate_python(taken)], admin)
        ledger.runner.catch_up()

        def stored() -> tuple[dict[str, str | None], dict[int, str | None], list[Any]]:
            with ledger.engine.connect() as conn:
                ends = conn.execute(sa.select(findings.c.finding_key, findings.c.valid_to))
                lines = conn.execute(
                    sa.select(event_amendments.c.position, event_amendments.c.summary)
                )
                recorded = conn.execute(sa.select(inventories).order_by(inventories.c.position))
                return (
                    {k: v for k, v in ends},
                    {p: s for p, s in lines},
                    [tuple(r) for r in recorded],
                )

        projected = stored()
        ends, lines, recorded = projected
        ended = {k for k, v in ends.items() if v is not None}
        assert ended and len(ended) < len(ends)
        assert lines and all(lines.values())
        assert recorded, "the story takes inventories"
        cfg = alembic_config(settings.sqlalchemy_url())
        command.downgrade(cfg, "0016_routes_by_asset")
        with ledger.engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("proj_findings")}
            assert "valid_to" not in columns
        command.upgrade(cfg, "head")
        assert stored() == projected
    finally:
        ledger.close()


def test_the_read_lazily_migration_fills_what_the_projection_writes(settings: Settings) -> None:
    """0018 fills ``proj_findings.lazy`` from each row's stored JSON as the findings
    projection writes it (``findings_codec.read_lazily``), on the story's findings:
    lives a restart reads at once and lives it leaves until it needs their asset."""
    from alembic import command

    from ledger.bootstrap import build_ledger
    from ledger.cli.demo import load_demo
    from ledger.store.migrate import alembic_config
    from ledger.store.tables import findings

    ledger = build_ledger(settings)
    try:
        load_demo(ledger)
        ledger.runner.catch_up()

        def stored() -> dict[str, bool]:
            with ledger.engine.connect() as conn:
                rows = conn.execute(sa.select(findings.c.finding_key, findings.c.lazy))
                return {k: bool(v) for k, v in rows}

        projected = stored()
        assert len(set(projected.values())) == 2, "both kinds of rows"
        cfg = alembic_config(settings.sqlalchemy_url())
        command.downgrade(cfg, "0017_report_summaries")
        with ledger.engine.connect() as conn:
            inspected = sa.inspect(conn)
            assert "lazy" not in {c["name"] for c in inspected.get_columns("proj_findings")}
            indexes = {i["name"] for i in inspected.get_indexes("proj_findings")}
            assert "ix_proj_findings_eager" not in indexes
        command.upgrade(cfg, "head")
        assert stored() == projected
    finally:
        ledger.close()
