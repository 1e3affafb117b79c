"""Registrations added to a knowledge cut (``CutFacts.registered``) give the cut built
from every registration (``CutFacts.of``): the first registration of each asset in
world order, and each contract's assets (listed when asked), in any order of arrival."""

from __future__ import annotations

import random

import pytest

from domain.history import Event
from domain.rules.facts import CutFacts, registration_contract
from tests.unit.builders import register


def registrations(seed: int) -> list[Event]:
    rnd = random.Random(seed)
    out = []
    for i in range(60):
        asset = f"A{rnd.randrange(25)}"  # some assets registered twice, in either order
        contract = rnd.choice(["C1", "C2", "C3"])
        at = f"20{10 + rnd.randrange(8)}-0{1 + rnd.randrange(9)}-1{rnd.randrange(9)}"
        pos, record = register(asset, contract_id=contract, at=at, pos=i + 1)
        out.append(Event.parse(pos, record))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_registrations_added_in_pieces_give_the_cut_of_them_all(seed: int) -> None:
    events = registrations(seed)
    rnd = random.Random(seed)
    rnd.shuffle(events)
    cut = CutFacts.of(())
    cuts = sorted(rnd.sample(range(1, len(events)), 6))
    for lo, hi in zip([0, *cuts], [*cuts, len(events)], strict=True):
        cut = cut.registered(events[lo:hi])
        whole = CutFacts.of(events[:hi])
        assert cut.registrations == whole.registrations
        for c in ("C1", "C2", "C3", "C4"):
            assert cut.assets_of(c) == whole.assets_of(c)
    assert all(cut.assets_of(c) for c in ("C1", "C2", "C3"))
    assert cut.assets_of("C1") == tuple(
        sorted(a for a, e in cut.registrations.items() if registration_contract(e) == "C1")
    )


def test_nothing_new_leaves_the_cut_as_it_was() -> None:
    cut = CutFacts.of(registrations(1))
    assert cut.registered([]) is cut
