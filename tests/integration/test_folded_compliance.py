"""A view of a contract's compliance the projections cannot give (the past, or a past
state of knowledge) is folded from the log a share of the contract's assets at a time
(``folded_compliance``): it must equal the fold of the contract's whole history, for
any share, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from domain.rules import compliance
from ledger.bootstrap import Ledger
from ledger.cli.demo import load_demo
from ledger.projections.custody_queries import all_contracts, contract_history
from ledger.reading.findings import folded_compliance
from ledger.store.tables import events
from ledger.worlds.realistic import append_world

SHARES = (1, 7, 500)


def instants(ledger: Ledger, n: int) -> list[datetime]:
    """``n`` knowledge instants spread over the log's reports."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(events.c.state).order_by(events.c.notification_id))
        reported = sorted(_reported(s) for (s,) in rows)
    return [reported[len(reported) * (i + 1) // (n + 1)] for i in range(n)]


def _reported(state: bytes) -> datetime:
    return datetime.fromisoformat(orjson.loads(state)["reported_at"].replace("Z", "+00:00"))


def check(ledger: Ledger, contract: str, as_of: datetime, known_at: datetime) -> dict[str, Any]:
    with ledger.engine.connect() as conn:
        whole = compliance(contract_history(conn, contract), contract, as_of, known_at)
        for share in SHARES:
            assert folded_compliance(conn, contract, as_of, known_at, share) == whole, share
    return whole.to_dict()


def test_the_story_folded_a_share_at_a_time_equals_the_whole_fold(ledger: Ledger) -> None:
    load_demo(ledger)
    seen = []
    for year in (2012, 2014, 2015, 2017):
        t = datetime(year, 6, 1, tzinfo=UTC)
        seen.append(check(ledger, "fms-iq-m1", t, t))
        seen.append(check(ledger, "fms-iq-m1", t, datetime.now(UTC)))
    assert any(s["not_accounted_for"] for s in seen)
    assert any(s["support"] == "suspend" for s in seen)
    now = datetime.now(UTC)
    assert ledger.findings.compliance("fms-iq-m1", as_of=now, known_at=now, fold=True) == (
        ledger.findings.compliance("fms-iq-m1", as_of=now, known_at=now)
    )


def test_a_realistic_world_folded_a_share_at_a_time_equals_the_whole_fold(
    ledger: Ledger,
) -> None:
    append_world(ledger, 3_000, seed=5, contracts=2)
    ledger.runner.catch_up()
    with ledger.engine.connect() as conn:
        contracts = all_contracts(conn)
    assert len(contracts) >= 2
    seen = []
    times = instants(ledger, 3)
    for contract in contracts:
        for known_at in times:
            seen.append(check(ledger, contract, known_at, known_at))
        seen.append(check(ledger, contract, times[0], times[-1]))
    assert any(s["not_accounted_for"] for s in seen)
    assert any(s["accounted_for"] for s in seen)
