"""The incremental walk held to the reference on the realistic world
(``ledger.worlds.realistic``): late reports, amendments, reference changes, inventories
and dispositions as a ledger really meets them, for several seeds.

Late reports are where the realistic world differs most from hand-made logs: an
asset's news often lands before its last steps in world order, and its evaluation is
then rewound (``AssetMemo.rewound``: the steps before the news kept, the rest folded
again) instead of built from scratch. Held to:

* the evaluation of every knowledge instant from scratch (``Evaluator(incremental=
  False)``), scope by scope;
* the life folded from scratch (``life(..., incremental=False)``), for a walk fed the
  log in pieces.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.history import Event
from domain.rules.asset_memo import AssetMemo
from domain.rules.evaluation import Evaluator
from domain.rules.findings import Finding, ordered
from domain.rules.impact import NOTHING_KNOWN, ScopeKey
from domain.rules.tracking import ReferenceReuse, batches, life
from domain.rules.walk import Walk
from domain.state import History
from ledger.worlds.realistic import world_events
from ledger.writing.wire import EVENT_ADAPTER, to_record

EVENTS = 1500


def _events(seed: int) -> list[Event]:
    """The world as a ledger logs it: positions in append order."""
    out = []
    for i, raw in enumerate(world_events(EVENTS, seed=seed, assets=25, contracts=2)):
        record: dict[str, Any] = to_record(EVENT_ADAPTER.validate_python(raw))
        out.append(Event.parse(i + 1, record))
    return out


@pytest.fixture(scope="module", params=[1, 2, 3])
def events(request: pytest.FixtureRequest) -> list[Event]:
    return _events(request.param)


def _held_to_scratch(events: list[Event]) -> None:
    fast = Evaluator(ReferenceReuse(History(events).log))
    slow = Evaluator(ReferenceReuse(History(events).log), incremental=False)
    prev = NOTHING_KNOWN
    last: dict[ScopeKey, tuple[Finding, ...]] = {}
    for k, batch in batches(events):
        got = fast.run(k, fast.impact(batch, k, prev))
        want = slow.run(k, slow.impact(batch, k, prev))
        # A scope the incremental evaluator leaves out stands as it last judged it (a
        # contract's C04/C05 under new actions that suspend and hold as before).
        assert got.keys() <= want.keys(), k
        last.update(got)
        for scope, found in want.items():
            assert ordered(last.get(scope, ())) == ordered(found), (k, scope)
        prev = k


def test_each_instant_is_judged_as_from_scratch(events: list[Event]) -> None:
    _held_to_scratch(events)


@pytest.mark.source_only  # spies on the domain's functions
def test_late_reports_rewind_evaluations_as_they_are_held_to_scratch(
    events: list[Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    rewound = 0
    original = AssetMemo.rewound

    def counting(self: AssetMemo, *args: Any) -> Any:
        nonlocal rewound
        rewound += 1
        return original(self, *args)

    monkeypatch.setattr(AssetMemo, "rewound", counting)
    _held_to_scratch(events)
    assert rewound > 20  # the path under test was taken


def test_a_walk_fed_in_pieces_gives_the_life_folded_from_scratch(events: list[Event]) -> None:
    walk = Walk()
    for i in range(0, len(events), 333):
        walk.feed(events[i : i + 333])
    expected = life(History(events), incremental=False)
    got = walk.lives()
    assert set(got) == set(expected)
    for key, x in expected.items():
        assert got[key] == x, key
