"""A view of a contract the projections cannot give (the past, or a past state of
knowledge) is folded from the log a share of the contract's assets at a time
(``folded_compliance``, ``folded_report``): compliance and the report must equal the
fold of the contract's whole history, for any share, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from domain.rules import Lives, Window, compliance, contract_report
from ledger.bootstrap import Ledger
from ledger.cli.demo import load_demo
from ledger.projections.custody_queries import all_contracts, contract_history
from ledger.projections.findings_queries import lives_of
from ledger.reading.findings import contract_lives, folded_compliance, folded_report
from ledger.store.tables import event_index, events, findings
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


def all_lives(ledger: Ledger, contract: str) -> Lives:
    """Every life of the contract's findings, whole: what the reports of the past
    read at once before they streamed them (``contract_lives``)."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(findings.c.life).where(findings.c.contract_id == contract)
        ).all()
        return Lives(lives_of(conn, rows, full=True))


def check(
    ledger: Ledger, contract: str, as_of: datetime, known_at: datetime, period: Window | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Compliance and the report folded by shares against the whole fold; returns
    both."""
    lives = all_lives(ledger, contract)
    head, head_hash = ledger.lookups.head()
    with ledger.engine.connect() as conn:
        history = contract_history(conn, contract)
        whole = compliance(history, contract, as_of, known_at)
        report = contract_report(
            history,
            contract,
            as_of=as_of,
            known_at=known_at,
            head_position=head,
            head_hash=(head_hash or b"").hex(),
            period=period or PERIOD,
            lives=lives,
        ).to_dict()
        for share in SHARES:
            assert folded_compliance(conn, contract, as_of, known_at, share) == whole, share
            # The lives as a report of the past reads them: those it needs, by pages
            # (of 7 here, so that there are several).
            got = folded_report(
                conn,
                contract,
                as_of=as_of,
                known_at=known_at,
                period=period or PERIOD,
                lives=contract_lives(conn, contract, as_of, known_at, page=7),
                share=share,
            )
            assert got.to_dict() == report, share
    return whole.to_dict(), report


PERIOD = Window()


def test_the_story_folded_a_share_at_a_time_equals_the_whole_fold(ledger: Ledger) -> None:
    load_demo(ledger)
    seen = []
    for year in (2012, 2014, 2015, 2017):
        t = datetime(year, 6, 1, tzinfo=UTC)
        seen.append(check(ledger, "fms-iq-m1", t, t))
        seen.append(check(ledger, "fms-iq-m1", t, datetime.now(UTC)))
    assert any(c["not_accounted_for"] for c, _ in seen)
    assert any(c["support"] == "suspend" for c, _ in seen)
    assert any(r["corrections"] for _, r in seen) and any(r["restatements"] for _, r in seen)
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
        # A valid time after the knowledge time, and a bounded period.
        seen.append(check(ledger, contract, times[-1], times[0], Window(times[0], times[1])))
    assert any(c["not_accounted_for"] for c, _ in seen)
    assert any(c["accounted_for"] for c, _ in seen)
    assert any(r["corrections"] for _, r in seen) and any(r["restatements"] for _, r in seen)
    assert any(r["inventory"]["inventories_in_period"] for _, r in seen)
    assert any(x["late_evidence"] for _, r in seen for x in r["restatements"])


def test_a_fold_reads_only_up_to_where_custody_stood_when_it_began(ledger: Ledger) -> None:
    """The shares are separate reads: all of them stop at the custody projection's
    position when the fold began, which the report names as its log head, so events
    indexed meanwhile are not mixed in. Here custody is set back as if the story's
    later events had been indexed after the fold began."""
    load_demo(ledger)
    head = ledger.lookups.head()[0]
    with ledger.engine.connect() as conn:
        registered = conn.execute(
            sa.select(sa.func.max(event_index.c.position)).where(
                event_index.c.subject == "registrations"
            )
        ).scalar_one()
    upto = registered + 1  # every asset registered, most of their events after
    assert upto < head
    with ledger.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE projection_tracking SET position = :p WHERE name = 'custody'"),
            {"p": upto},
        )
    t = datetime.now(UTC)
    lives = all_lives(ledger, "fms-iq-m1")
    with ledger.engine.connect() as conn:
        before = contract_history(conn, "fms-iq-m1", upto=upto)
        everything = contract_history(conn, "fms-iq-m1")
        assert len(before.log.events) < len(everything.log.events)
        got = folded_report(
            conn,
            "fms-iq-m1",
            as_of=t,
            known_at=t,
            period=PERIOD,
            lives=contract_lives(conn, "fms-iq-m1", t, t),
            share=1,
        )
        assert folded_compliance(conn, "fms-iq-m1", t, t, share=1) == compliance(
            before, "fms-iq-m1", t, t
        )
    assert got.reproducibility["log_head_position"] == upto
    with ledger.engine.connect() as conn:
        stored = conn.execute(
            sa.select(events.c.hash).where(events.c.notification_id == upto)
        ).scalar_one()
    assert got.reproducibility["log_head_hash"] == bytes(stored).hex()
    want = contract_report(
        before,
        "fms-iq-m1",
        as_of=t,
        known_at=t,
        head_position=upto,
        head_hash=got.reproducibility["log_head_hash"],
        period=PERIOD,
        lives=lives,
    )
    assert got.to_dict() == want.to_dict()


def test_a_report_of_the_past_reads_only_the_lives_it_needs(ledger: Ledger) -> None:
    """``contract_lives`` streams the lives a report of the past reads, by pages; it
    leaves out those the report reads nothing of: findings unknown at ``known_at``
    that are cleared now or start after ``min(as_of, known_at)``. Early in a
    realistic world that is most of them. (That the report is the same with the
    lives streamed as with all of them is ``check``'s.)"""
    append_world(ledger, 3_000, seed=5, contracts=1)
    ledger.runner.catch_up()
    with ledger.engine.connect() as conn:
        (contract,) = all_contracts(conn)
    whole = all_lives(ledger, contract)
    early = instants(ledger, 4)[0]
    with ledger.engine.connect() as conn:
        pages = [x.key for x in contract_lives(conn, contract, early, early, page=7)]
    read = set(pages)
    assert len(pages) == len(read)  # no life read twice across the pages
    left = [x for key, x in whole.items() if key not in read]
    assert read and len(left) > len(read)
    for x in left:
        now = x.at(None)
        assert x.at(early) is None
        assert now is None or now.cleared or now.valid_from > early
