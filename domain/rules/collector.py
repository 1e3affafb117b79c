"""The cyclic garbage collector around a walk through knowledge time
(:func:`collector_paused`): a walk's heap is large and long-lived, and the collections
its allocations set off would scan it again and again."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count

SWEEP_EVERY = 64
"""How many times, at least, :func:`collector_paused` freezes the heap before it
sweeps it."""

SWEEP_SHARE = 0.05
"""The share of the time, at most, that sweeps take: a sweep waits until the time
since the last one ended is ``(1 - SWEEP_SHARE) / SWEEP_SHARE`` times what it took."""

_paused = count(1)
_clock = time.perf_counter
_last = {"end": 0.0, "took": 0.0}  # the last sweep's


def _sweep_due(uses: int) -> bool:
    if uses % SWEEP_EVERY:
        return False
    wait = _last["took"] * (1 - SWEEP_SHARE) / SWEEP_SHARE
    return _clock() - _last["end"] >= wait


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run without the cyclic garbage collector, and leave what the walk holds out of
    its next collections.

    A walk holds a large heap of long-lived objects (the log, every asset's steps and
    states, the findings) and makes many that live for a knowledge instant or two (the
    findings and segments an extension replaces, the tracker's changes): promoted to
    the oldest generation before they die, those make the collector scan the whole
    heap again and again, more often as the heap grows (on the 100,000-event stress
    ledger the walk's last fifth ran 1.6 times faster without it). The walk makes no
    reference cycles of its own (what it drops, reference counting frees).

    Re-enabled after a feed, the collector would still scan everything the feed left
    alive, and then the whole heap (a tenth of a 200,000-event walk's time): instead,
    every object alive then is frozen (``gc.freeze``: left out of collections). A
    frozen object that later joins a garbage cycle would never be freed, so every
    :data:`SWEEP_EVERY`-th time the heap is unfrozen and collected once, in full: the
    cost of a full collection is paid once per so many feeds, and cyclic garbage
    (another thread's: the collector is the process's) is freed all the same, later:
    what waits is at most what the last so many feeds left (a sweep also unfreezes,
    and scans once, what a server froze at its start; it is frozen again at once).
    A sweep's cost grows with the heap (seconds at two million events): so many feeds
    apart, sweeps would take a growing share of a long catch-up, so a sweep also waits
    until they take at most :data:`SWEEP_SHARE` of the time.
    Already disabled: left as it is."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if _sweep_due(next(_paused)):
            start = _clock()
            gc.unfreeze()
            gc.collect()
            _last["end"] = _clock()
            _last["took"] = _last["end"] - start
        gc.freeze()
        gc.enable()
