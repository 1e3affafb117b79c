"""Inventories added to a knowledge cut (``CutFacts.inventoried``) give the cut built
from every inventory (``CutFacts.replaced``): the inventories in world order, the
assets and scope parties of each, the index from scope party to inventories — in any
order of arrival, late ones going in before those held — and what each addition
brought (``CutFacts.inventories_since``)."""

from __future__ import annotations

import random

import pytest

from domain.history import Event
from domain.rules.facts import CutFacts
from domain.vocabulary import EventType
from tests.unit.builders import inventory

SCOPES = ["army", "bde-1", "bde-2", "bn-1", "bn-2"]


def inventories(seed: int, n: int = 40) -> list[Event]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        assets = {f"A{rnd.randrange(12)}": rnd.choice(["present", "absent"]) for _ in range(3)}
        scope = rnd.sample(SCOPES, rnd.randint(1, 2))
        at = f"20{10 + rnd.randrange(8)}-0{1 + rnd.randrange(9)}-1{rnd.randrange(9)}"
        pos, record = inventory(assets, scope, at=at, pos=i + 1)
        out.append(Event.parse(pos, record))
    return out


def _same(cut: CutFacts, whole: CutFacts) -> None:
    assert cut.inventories == whole.inventories
    assert cut.inventory_subjects == whole.inventory_subjects
    assert cut.inventory_scopes == whole.inventory_scopes
    assert (
        cut.inventory_keys == whole.inventory_keys == tuple(e.world_key for e in whole.inventories)
    )
    assert dict(cut.inventories_by_scope) == dict(whole.inventories_by_scope)


@pytest.mark.parametrize("seed", range(10))
def test_inventories_added_in_pieces_give_the_cut_of_them_all(seed: int) -> None:
    events = inventories(seed)
    rnd = random.Random(seed)
    rnd.shuffle(events)  # late reports: many go in before inventories held
    cut = first = CutFacts.of(())
    cuts = sorted(rnd.sample(range(1, len(events)), 12))
    for lo, hi in zip([0, *cuts], [*cuts, len(events)], strict=True):
        before = cut
        cut = cut.inventoried(events[lo:hi])
        _same(cut, CutFacts.of(()).replaced(EventType.INVENTORY_COMPLETED, events[:hi]))
        since = cut.inventories_since(before.inventory_serial)
        assert since is not None
        added, removed = since
        assert sorted(map(id, added)) == sorted(map(id, events[lo:hi]))
        assert removed == []
        # Across every addition since the first cut (the chain R14 follows for an
        # asset judged long ago): each version once.
        all_since = cut.inventories_since(first.inventory_serial)
        assert all_since is not None
        assert sorted(map(id, all_since[0])) == sorted(map(id, events[:hi]))
        assert all_since[1] == []


def test_nothing_new_leaves_the_cut_as_it_was() -> None:
    cut = CutFacts.of(inventories(1))
    assert cut.inventoried([]) is cut
