"""Findings judged in partitions (``domain.rules.partitions``) equal one walk's.

Partition walks over a share of the assets each, and the contract walk over the
partitions' records, fed the log in pieces as projection workers would be (every
partition up to a position, then the contract level up to it), give the very lives
one walk gives for the whole log: on realistic worlds of several seeds (late
reports, retractions, corrections, inventories, reference changes, dispositions),
for two and three partitions, and on hand-made logs where a retraction or a late
report in one partition moves a contract-level finding.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.frozen import thaw
from domain.history import Event
from domain.rules import impact
from domain.rules.findings import ClearReason
from domain.rules.lives import Lives
from domain.rules.partitions import (
    ContractWalk,
    Partition,
    PartitionWalk,
    Router,
    key_asset,
    shard,
)
from domain.rules.walk import Walk
from domain.state import History
from domain.vocabulary import EventType
from ledger.worlds.realistic import world_events
from ledger.writing.wire import EVENT_ADAPTER, to_record
from tests.unit.builders import (
    Logged,
    capture,
    contract,
    correct,
    inventory,
    lose,
    register,
    retract,
    world,
)
from tests.unit.rule_builders import disposition
from tests.unit.stores import LazyStore, Store

EVENTS = 1500


def _events(seed: int, assets: int = 25, contracts: int = 2) -> list[Event]:
    out = []
    raw = world_events(EVENTS, seed=seed, assets=assets, contracts=contracts)
    for i, r in enumerate(raw):
        record: dict[str, Any] = to_record(EVENT_ADAPTER.validate_python(r))
        out.append(Event.parse(i + 1, record))
    return out


def _one_walk(events: list[Event], piece: int) -> Lives:
    walk = Walk()
    for i in range(0, len(events), piece):
        walk.feed(events[i : i + piece])
    return walk.lives()


def _partitioned(events: list[Event], count: int, piece: int) -> tuple[Lives, list[Lives]]:
    """Every partition fed up to a position, then the contract walk up to it."""
    by_id = {e.event_id: e for e in events}
    router = Router(count, by_id.get)
    walks = [PartitionWalk(Partition(i, count)) for i in range(count)]
    contracts = ContractWalk()
    for start in range(0, len(events), piece):
        split = router.split(events[start : start + piece])
        records = []
        upto = max(e.reported_at for e in events[start : start + piece])
        for i, walk in enumerate(walks):
            walk.follow(split[i], upto)
            records += walk.take_records()
        records.sort(key=lambda r: r.k)  # stable: each partition's stay in order
        contracts.feed(split[None], records, upto)
    return contracts.lives(), [w.lives() for w in walks]


def _assert_same(expected: Lives, contract: Lives, parts: list[Lives], count: int) -> None:
    got: dict[str, Any] = {}
    for i, lives in enumerate(parts):
        for key, x in lives.items():
            assert key not in got, key
            assert shard(key_asset(key) or "", count) == i, key  # only its own assets
            got[key] = x
    for key, x in contract.items():
        assert key_asset(key) is None, key
        assert key not in got, key
        got[key] = x
    assert set(got) == set(expected)
    for key, x in expected.items():
        assert got[key] == x, key


@pytest.mark.parametrize(("seed", "count"), [(1, 2), (2, 2), (3, 3), (4, 3), (5, 4)])
def test_partitions_and_the_contract_level_give_one_walks_lives(seed: int, count: int) -> None:
    events = _events(seed)
    expected = _one_walk(events, 400)
    assert any(key_asset(k) is None for k in expected)  # C01–C03 are judged
    contract, parts = _partitioned(events, count, 257)
    assert all(len(p) for p in parts)  # each partition judged some
    _assert_same(expected, contract, parts, count)
    one, walk = Store(), Walk()
    for i in range(0, len(events), 400):
        walk.feed(events[i : i + 400])
        one.take(walk.drain())
    stored = _stored_partitioned(events, count, 257, None)
    assert {k: v for s in stored.values() for k, v in s.items()} == one.changes


def test_one_partition_and_pieces_of_one_event(seed: int = 5) -> None:
    events = _events(seed)[:700]
    expected = _one_walk(events, 700)
    contract, parts = _partitioned(events, 1, 1)
    _assert_same(expected, contract, parts, 1)


def test_an_amendment_goes_where_its_target_went() -> None:
    events = _events(1)
    by_id = {e.event_id: e for e in events}
    router = Router(3, by_id.get)
    amended = [e for e in events if e.target_event_id and e.target_event_id in by_id]
    assert amended
    for e in amended:
        target = by_id[e.target_event_id or ""]
        while target.target_event_id in by_id and target.type.value.startswith("event_"):
            target = by_id[target.target_event_id or ""]
        assert router.route(e) == router.route(target)
    unknown = [e for e in amended if e.target_event_id]
    assert Router(3, lambda _: None).route(unknown[0]) is None  # every partition


@pytest.mark.source_only  # spies on the domain's functions
def test_the_contract_level_looks_for_no_asset_an_inventory_may_expect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The contract walk judges no asset, so an inventory's unnamed assets are not
    looked for: looking among every asset known built a whole view of the log at each
    inventory's instant, and kept it (past 5 GB at 1,000,000 events). Its lives stay
    one walk's."""
    events = _events(seed=6)
    assert any(e.type is EventType.INVENTORY_COMPLETED for e in events)
    looked: list[Any] = []
    original = impact.expected_by

    def counting(*args: Any, **kwargs: Any) -> Any:
        looked.append(args[3])  # evaluated_at: empty for a walk that judges no asset
        return original(*args, **kwargs)

    monkeypatch.setattr(impact, "expected_by", counting)
    contract, parts = _partitioned(events, 2, 300)
    assert looked and all(looked)  # the partitions looked, among the assets they judged
    _assert_same(_one_walk(events, 300), contract, parts, 2)


def test_shards_are_stable_and_spread() -> None:
    assert [shard(f"t{i}", 4) for i in range(8)] == [shard(f"t{i}", 4) for i in range(8)]
    counts = [0, 0, 0, 0]
    for i in range(4000):
        counts[shard(f"asset-{i}", 4)] += 1
    assert min(counts) > 900
    assert key_asset("R03/t1/2020-01-01T00:00:00Z") == "t1"
    assert key_asset("R05/ev-9/t2") == "t2"
    assert key_asset("C01/fms-1/2020-01-01T00:00:00Z") is None
    assert key_asset("C04/ev-9/t3") == "t3"
    assert key_asset("R16/ev-9") is None  # no rule makes it: the contract level's
    assert key_asset("abc") is None


# -- hand-made logs: news in one partition that moves a contract-level finding ----------


def _two_partitions_apart() -> tuple[str, str]:
    """Two asset ids in different partitions of two."""
    ids = [f"A{i}" for i in range(1, 20)]
    first = ids[0]
    other = next(a for a in ids if shard(a, 2) != shard(first, 2))
    return first, other


def _log(*logged: Logged) -> list[Event]:
    """The world and ``logged`` as a ledger logs them: in knowledge order."""
    known = sorted(History([*world(), *logged]).log.events, key=lambda e: e.knowledge_key)
    return [Event.parse(i + 1, thaw(e.record)) for i, e in enumerate(known)]


def _check(events: list[Event], count: int = 2) -> Lives:
    """Partitions give one walk's lives, and store what it stores (a finding pending
    at the end is a life, not a stored change)."""
    expected = _one_walk(events, len(events))
    one = Store()
    walk = Walk()
    walk.feed(events)
    one.take(walk.drain())
    for piece in (1, 3, len(events)):
        contract, parts = _partitioned(events, count, piece)
        _assert_same(expected, contract, parts, count)
        stored = _stored_partitioned(events, count, piece, None)
        assert {k: v for s in stored.values() for k, v in s.items()} == one.changes
    return expected


def _c01(lives: Lives) -> list[Any]:
    return [x for key, x in sorted(lives.items()) if key.startswith("C01/")]


def test_a_retraction_in_one_partition_voids_the_contracts_suspension() -> None:
    a, b = _two_partitions_apart()
    loss = lose(a, at="2014-06-10")
    events = _log(
        register(a),
        register(b),
        loss,
        lose(b, at="2014-08-01", reported="2014-08-01"),
        retract(loss, at="2014-09-15"),
    )
    lives = _check(events)
    reasons = [c.reason for x in _c01(lives) for c in x.changes if c.finding is None]
    assert ClearReason.VOIDED_TRIGGER_RETRACTED in reasons  # the path under test


def test_a_late_report_in_one_partition_moves_the_suspension_earlier() -> None:
    a, b = _two_partitions_apart()
    events = _log(
        register(a),
        register(b),
        lose(b, at="2014-08-01"),
        lose(a, at="2014-06-10", reported="2014-12-01"),
    )
    lives = _check(events)
    reasons = [c.reason for x in _c01(lives) for c in x.changes if c.finding is None]
    assert ClearReason.SUPERSEDED in reasons


def test_an_asset_corrected_into_another_contract_moves_its_unaccounted_time() -> None:
    a, b = _two_partitions_apart()
    joined = register(a, at="2011-01-01")
    events = _log(
        contract("C2"),
        register(b),
        joined,
        lose(a, at="2014-06-10"),
        lose(b, at="2014-06-10"),
        correct(joined, {"payload.contract_id": "C2"}, at="2014-10-01"),
    )
    lives = _check(events)
    assert any(key.startswith("C01/C2/") for key in lives)
    assert any(key.startswith("C01/C1/") for key in lives)


def test_a_finding_pending_in_one_partition_is_detected_when_another_takes_the_log_past_it() -> (
    None
):
    """``a``'s inventory falls due with no later event of its own: the log's knowledge
    passes the due date with ``b``'s events, in the other partition."""
    a, b = _two_partitions_apart()
    events = _log(register(a), register(b), lose(b, at="2014-06-10"))
    lives = _check(events)
    assert any(key.startswith(f"R13/{a}/") and x.detected_at for key, x in lives.items())


def test_a_disposition_naming_no_finding_a_rule_makes_is_no_ones() -> None:
    """A disposition may name any text as its finding key: no walk stops on it, and
    none stores a life for it (as one walk)."""
    a, b = _two_partitions_apart()
    events = _log(
        register(a),
        register(b),
        lose(b, at="2014-06-10"),
        disposition("abc", at="2014-07-01"),
        disposition("R16/evt-1", at="2014-07-02"),
        disposition("R03/", at="2014-07-03"),
    )
    lives = _check(events, 3)
    assert not any(k in lives for k in ("abc", "R16/evt-1", "R03/"))


def test_an_event_naming_assets_of_two_partitions_reaches_both() -> None:
    a, b = _two_partitions_apart()
    events = _log(register(a), register(b), capture([a, b], "isis", at="2014-06-10"))
    lives = _check(events)
    assert any(key.startswith(f"R01/{a}/") for key in lives)
    assert any(key.startswith(f"R01/{b}/") for key in lives)


def test_each_partition_judges_an_inventory_by_its_own_lines() -> None:
    """A partition holds each inventory's scope and only its own assets' result lines
    (``Event.kept_for``): every partition reads every inventory, and kept whole they
    held every line of the log (decision 0024). Its findings stay one walk's — for an
    asset found where it was not expected, one expected but not listed, and after
    corrections that change a line and move one to another asset — and every version
    it holds lists only its own assets, while its record stays the whole record."""
    ids = [f"A{i}" for i in range(1, 40)]
    mine = [a for a in ids if shard(a, 2) == 0][:3]
    theirs = [a for a in ids if shard(a, 2) == 1][:3]
    a, b, c = mine
    x, y, z = theirs
    listed = {a: "present", x: "absent", b: "present", y: "present"}
    counted = inventory(listed, "9th-div", at="2014-03-01")  # c and z unlisted
    events = _log(
        *(register(i) for i in (a, c, x, z)),
        register(b, custodian="kurds"),  # found by the 9th division: not expected
        register(y, custodian="pmf"),
        counted,
        correct(counted, {"payload.results.1.result": "present"}, at="2014-05-01"),
        correct(
            counted,
            {"payload.results.3": {"asset_id": z, "result": "absent"}},
            at="2014-07-01",
        ),
    )
    lives = _check(events)
    r14 = {key.rsplit("/", 1)[-1] for key in lives if key.startswith("R14/")}
    assert {b, c}.issubset(r14) and {y, z, x}.issubset(r14), sorted(lives)
    contract, parts = ContractWalk(), [PartitionWalk(Partition(i, 2)) for i in range(2)]
    split = Router(2, {e.event_id: e for e in events}.get).split(events)
    contract.feed(split[None])
    whole = {e.event_id: e for e in events if e.type is EventType.INVENTORY_COMPLETED}
    for walk in (*parts, contract):
        if walk is not contract:
            walk.feed(split[walk.partition.index])
        log = walk.history.log
        held = [e for e in log.events if e.type is EventType.INVENTORY_COMPLETED]
        assert held
        for e in held:
            lines = whole[e.event_id].inventory_results()
            owned = {i for i in lines if walk.partition.owns(i)}
            assert set(e.inventory_results()) == owned
            assert set(e.asset_ids) == owned and e.record == whole[e.event_id].record
            assert e == whole[e.event_id]
            version = log.version(e, None)
            assert version is not None and version.corrected
            assert all(walk.partition.owns(i) for i in (*version.subjects, *version.asset_ids))
            # As corrected: x found after all, y's line now z's.
            expected: dict[int | None, set[str]] = {0: {a, b}, 1: {x, z}, None: set()}
            assert set(version.inventory_results()) == expected[walk.partition.index]


def test_an_inventory_kept_for_one_partition_gives_anothers_lines_from_its_record() -> None:
    """An inventory kept for one share of the assets, asked for another, reads its
    lines from its record again: none of the first share's, all of the second's."""
    counted = Event.parse(1, inventory({"A1": "present", "A2": "absent"})[1], lean=True)
    first = counted.kept_for(lambda a: a == "A1")
    second = first.kept_for(lambda a: a == "A2")
    assert dict(first.inventory_results()) == {"A1": ("present", None)}
    assert dict(second.inventory_results()) == {"A2": ("absent", None)}
    assert second.asset_ids == ("A2",) and second.subjects == ("A2",)
    assert second.texts("scope_parties") == counted.texts("scope_parties")
    assert register("A1")[1]["type"] == "asset_registered"
    plain = Event.parse(2, register("A1")[1])
    assert plain.kept_for(lambda a: False) is plain


# -- stopped and resumed --------------------------------------------------------------


def _stored_partitioned(
    events: list[Event], count: int, piece: int, stop: int | None, *, lazily: bool = False
) -> Any:
    """What every partition and the contract level store, fed in pieces; all stopped
    and resumed from their stores after piece ``stop`` (``lazily``: the partitions
    without the log, ``PartitionWalk.resumed_lazily``)."""
    by_id = {e.event_id: e for e in events}
    router = Router(count, by_id.get)
    scopes: list[int | None] = [*range(count), None]
    stores = {i: LazyStore() if i is not None else Store() for i in scopes}
    fed: dict[int | None, list[Event]] = {i: [] for i in scopes}
    walks = [PartitionWalk(Partition(i, count)) for i in range(count)]
    contracts = ContractWalk()
    every_record = []
    for n, start in enumerate(range(0, len(events), piece)):
        split = router.split(events[start : start + piece])
        records = []
        upto = max(e.reported_at for e in events[start : start + piece])
        for i, walk in enumerate(walks):
            walk.follow(split[i], upto)
            store = stores[i]
            assert isinstance(store, LazyStore)
            store.keep(walk, walk.drain())
            records += walk.take_records()
            fed[i] += split[i]
        records.sort(key=lambda r: r.k)
        every_record += records
        contracts.feed(split[None], records, upto)
        stores[None].take(contracts.drain())
        fed[None] += split[None]
        if n == stop and lazily:
            seen = events[: start + piece]
            walks = []
            for i in range(count):
                store = stores[i]
                assert isinstance(store, LazyStore)
                seed = store.seeding(seen, share=fed[i], defer=True)
                head = seen[: len(seen) - len(store.seeding(seen).tail)]
                walks.append(
                    PartitionWalk.resumed_lazily(Partition(i, count), seed, store.loader(head))
                )
        elif n == stop:
            walks = [
                PartitionWalk.resumed(Partition(i, count), fed[i], stores[i].upto)
                for i in range(count)
            ]
        if n == stop:
            contracts = ContractWalk.resume_from(fed[None], every_record, stores[None].upto)
            for i, walk in [*enumerate(walks), (None, contracts)]:
                walk.tick(upto)  # where the log had got to
                assert all(
                    stores[i].changes.get(d.key, [])[d.before.count :] == list(d.changes)
                    for d in walk.drain()
                ), "the last instant's changes, fed again, are those stored"
    return {i: s.changes for i, s in stores.items()}


@pytest.mark.parametrize("lazily", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_partitions_stopped_and_resumed_store_what_uninterrupted_ones_store(
    seed: int, lazily: bool
) -> None:
    events = _events(seed)[:900]
    whole = _stored_partitioned(events, 2, 150, None)
    assert whole[None]  # the contract level stored lives
    for stop in (0, 2, 4):
        assert _stored_partitioned(events, 2, 150, stop, lazily=lazily) == whole, stop
