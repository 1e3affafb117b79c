"""How long evaluating every finding at one knowledge cut takes on a projection-sized
log: about 10,000 events over 500 assets. The bound is loose so a busy machine does
not fail it; the median is printed (``pytest -s``) for the record."""

from __future__ import annotations

import statistics
import time

import pytest

from domain.history import Log
from domain.rules.life import findings_at
from domain.state import History
from tests.unit.rule_builders import synthetic


@pytest.mark.slow
def test_all_findings_at_one_cut_of_ten_thousand_events_take_well_under_two_seconds() -> None:
    log = Log(synthetic(assets=500, events=10_000))
    assert len(log.events) == 10_000
    instants = log.knowledge_instants()
    for label, k in (("mid-history", instants[len(instants) // 2]), ("hindsight", None)):
        runs = []
        for _ in range(3):
            h = History(log)  # cold: nothing folded yet
            started = time.perf_counter()
            found = findings_at(h, k)
            runs.append(time.perf_counter() - started)
        median = statistics.median(runs)
        print(f"findings_at {label}: {len(found)} findings, median {median:.3f}s of {runs}")
        assert found
        assert median < 2.0
