"""The findings projection followed batch by batch equals a walk from scratch (a
rebuild), also across a restart, a retraction and a historical import that teaches
the ledger about the past it already walked."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from domain.vocabulary import Role
from ledger.bootstrap import Ledger
from ledger.principal import Principal
from ledger.schema import EVENT_ADAPTER
from ledger.store.tables import findings
from tests import wire

ADMIN = Principal("admin", Role.ADMIN)


def append(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    ledger.appender.append([EVENT_ADAPTER.validate_python(e) for e in events], ADMIN)
    ledger.runner.catch_up()


def rows(ledger: Ledger) -> list[tuple[Any, ...]]:
    with ledger.engine.connect() as conn:
        return [
            tuple(r) for r in conn.execute(sa.select(findings).order_by(findings.c.finding_key))
        ]


def test_following_the_log_equals_a_walk_from_scratch(ledger: Ledger) -> None:
    append(ledger, wire.reference_world())
    append(ledger, [wire.asset(f"t{i}") for i in range(1, 5)])
    append(
        ledger,
        [wire.capture(["t1", "t2"], "isil", event_id="cap", occurred_at="2014-06-01T00:00:00Z")],
    )
    append(ledger, [wire.transfer(["t3"], "iq-army", "pmf", occurred_at="2014-07-01T00:00:00Z")])
    ledger.runner.projections[1].forget()  # as after a restart: the walk is rebuilt
    append(ledger, [wire.retraction("cap", event_id="ret")])
    append(
        ledger,
        [
            wire.transfer(
                ["t4"],
                "iq-army",
                "isil",
                occurred_at="2014-05-01T00:00:00Z",
                reported_at="2014-05-02T00:00:00Z",
            )
        ],  # knowledge from the past
    )
    followed = rows(ledger)
    assert any(r[0].startswith("R01/t4/isil") for r in followed)
    assert any(r[0].startswith("R01/t1/isil") for r in followed), (
        "cleared findings stay, with their life"
    )
    ledger.runner.rebuild()
    assert rows(ledger) == followed
