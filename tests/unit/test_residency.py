"""A worker's partition walks kept within a budget of events held
(``ledger.projections.residency``): the least recently used are forgotten first, the
walk in use never."""

from __future__ import annotations

import logging

import pytest

from ledger.projections.residency import Residency


class _Walk:
    def __init__(self, name: str, held: int) -> None:
        self.name, self._held, self.forgotten = name, held, 0

    def held(self) -> int:
        return self._held

    def forget(self) -> None:
        self._held, self.forgotten = 0, self.forgotten + 1


def test_without_a_budget_nothing_is_forgotten() -> None:
    residency = Residency(None)
    walks = [_Walk(f"p{i}", 1_000_000) for i in range(3)]
    for w in walks * 2:
        residency.settle(w)
    assert [w.forgotten for w in walks] == [0, 0, 0] and residency.forgotten == 0


def test_the_least_recently_used_walks_go_first_until_the_rest_fit() -> None:
    residency = Residency(100)
    a, b, c = _Walk("a", 40), _Walk("b", 40), _Walk("c", 10)
    for w in (a, b, c):
        residency.settle(w)
    assert (a.forgotten, b.forgotten, c.forgotten) == (0, 0, 0)  # 90 fits
    a._held = 60  # a grows: 110 held
    residency.settle(b)  # b used last: order a, c, b → a, the oldest, goes
    assert (a.forgotten, b.forgotten, c.forgotten) == (1, 0, 0)
    b._held = 95  # 105 with c: c, used before b, goes; b stays
    residency.settle(b)
    assert (a.forgotten, b.forgotten, c.forgotten) == (1, 0, 1)
    assert residency.forgotten == 2


def test_the_walk_in_use_is_kept_past_the_budget_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    residency = Residency(10)
    big, other = _Walk("big", 50), _Walk("other", 5)
    with caplog.at_level(logging.WARNING, logger="ledger.projections.residency"):
        residency.settle(other)
        residency.settle(big)
        residency.settle(big)
    assert big.forgotten == 0 and other.forgotten == 1
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "big alone holds 50 events" in said[0]


def test_a_walk_forgotten_elsewhere_is_not_counted() -> None:
    residency = Residency(100)
    a, b = _Walk("a", 90), _Walk("b", 5)
    residency.settle(a)
    a.forget()  # the runner let it go (a lease lost, an error)
    residency.settle(b)
    assert residency.forgotten == 0 and b.forgotten == 0


def test_room_is_made_for_the_contract_level_from_the_least_recently_used() -> None:
    residency = Residency(50)
    a, b = _Walk("a", 40), _Walk("b", 30)
    residency.settle(a)
    residency.settle(b)  # 70 held: a, the oldest, goes
    assert (a.forgotten, b.forgotten) == (1, 0)
    residency.make_room()  # 30 fits
    assert b.forgotten == 0
    strict = Residency(1)
    c = _Walk("c", 5)
    strict.settle(c)
    strict.make_room()
    assert c.forgotten == 1 and Residency(None).make_room() is None
