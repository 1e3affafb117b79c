"""The cyclic garbage collector around a walk through knowledge time
(:func:`collector_paused`): a walk's heap is large and long-lived, and the collections
its allocations set off would scan it again and again."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import count

SWEEP_EVERY = 64
"""How many times, at least, :func:`collector_paused` freezes the heap before it
sweeps it."""

SWEEP_SHARE = 0.05
"""The share of the time, at most, that sweeps take: a sweep waits until the time
since the last one ended is ``(1 - SWEEP_SHARE) / SWEEP_SHARE`` times what it took."""

PER_OBJECT_SECONDS = 1e-6
"""What a sweep is expected to take per frozen object before one has been timed (about
seven times what one took on a quiet core here: a worker shares its cores)."""

log = logging.getLogger(__name__)

_paused = count(1)
_clock = time.perf_counter
_last = {"end": 0.0, "took": 0.0, "per_object": 0.0}  # the last sweep's
_before_sweep: list[Callable[[float], None]] = []


def before_sweeps(hook: Callable[[float], None]) -> Callable[[], None]:
    """Have ``hook(seconds)`` called before each sweep, with how long the sweep is
    expected to hold the process (:func:`expected_sweep`); returns what removes it.

    A sweep holds the interpreter for all of its length: no other thread of the
    process runs meanwhile, and a findings worker's lease renewals are such a thread
    (``ledger.projections.leases``). At a million events, two workers sharing two cores
    swept for up to 7 s, past the 6 s leases of the benchmark: the other worker took
    the partitions over, and both resumed their walks from the store (decision 0029).
    The hook lets a worker extend its leases over the pause first. One that raises
    is logged, and the sweep goes ahead."""
    _before_sweep.append(hook)

    def remove() -> None:
        if hook in _before_sweep:
            _before_sweep.remove(hook)

    return remove


def expected_sweep() -> float:
    """Seconds the next sweep is expected to take: the objects frozen now at the last
    sweep's time per object (:data:`PER_OBJECT_SECONDS` before any), doubled."""
    per_object = _last.get("per_object", 0.0) or PER_OBJECT_SECONDS
    return 2.0 * per_object * gc.get_freeze_count()


def _sweep() -> None:
    for hook in list(_before_sweep):
        try:
            hook(expected_sweep())
        except Exception:  # the sweep and the walk go ahead
            log.exception("a hook before a collector sweep failed")
    frozen = gc.get_freeze_count()
    start = _clock()
    gc.unfreeze()
    gc.collect()
    _last["end"] = _clock()
    _last["took"] = _last["end"] - start
    if frozen:
        _last["per_object"] = _last["took"] / frozen


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
    until they take at most :data:`SWEEP_SHARE` of the time, and is announced first
    (:func:`before_sweeps`): it holds the whole process.
    Already disabled: left as it is."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        try:
            if _sweep_due(next(_paused)):
                _sweep()
        finally:
            gc.freeze()
            gc.enable()
