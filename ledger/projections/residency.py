"""What one worker's findings walks share: a budget of events they may hold in memory
together (``LEDGER_FINDINGS_RESIDENT_EVENTS``), and the log-wide events, decoded once.

A walk's memory grows with the events it holds: the global events, and each of its
assets' own with their evaluations (about 4–5 KB an event on the realistic world,
benchmarks/NOTES.md). A worker that runs several partitions of the assets
(``LEDGER_FINDINGS_PARTITIONS``) needs to hold only the one it is applying a batch to:
the others are in the store (their findings, and what a lazy resume stands on,
decision 0016). So the worker keeps its partitions' walks while together they hold at
most a budget of events, and forgets the walk it used least recently when they hold
more; that partition resumes from the store when it next has a batch. A worker
catching up applies one partition's batches until it has caught up, then the next
one's (``Runner.catch_up``): with a budget, it holds one partition's walk at a time,
and its memory is one partition's, not the ledger's (docs/decisions/0017).

The walk in use is never forgotten: a partition that alone holds more than the budget
is kept, and said once (a larger ``LEDGER_FINDINGS_PARTITIONS`` makes each smaller).

Every partition walk, and the contract level's, holds the log-wide events (reference
data, inventories, contract actions, dispositions: ``GLOBAL_TYPES``; a partition's
own registrations and amendments since decision 0023). Decoded by each, a worker of sixteen partitions held
seventeen copies, and a partition resumed from the store read them all again. The
worker decodes them once (:meth:`Residency.parsed`, :meth:`Residency.shared`) and its
walks share the objects (events are immutable); the budget counts them once.

Inventories are the exception: each walk keeps only its own assets' result lines of
one (``Event.kept_for``), so the worker does not keep them whole for its walks to
share. A partition decodes each one it reads and keeps its part; the lines of the
whole log, held by the worker for its life, were what grew fastest with the ledger
(decision 0024).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from domain.history import Event
from domain.rules.partitions import GLOBAL_TYPES
from domain.vocabulary import EventType
from ledger.projections.held import held_event
from ledger.projections.stored_lives import SharedReads

log = logging.getLogger(__name__)

_SHARED = GLOBAL_TYPES - {EventType.INVENTORY_COMPLETED}
"""What every partition reads whole (an amendment mostly goes to one)."""


class Resident(Protocol):
    name: str

    def held(self) -> int:
        """How many events its walk holds in memory (0: none)."""
        ...

    def forget(self) -> None: ...


class Residency:
    """The walks one worker holds, least recently used first, within ``budget``
    events held together (``None``: no bound)."""

    def __init__(self, budget: int | None) -> None:
        self.budget = budget
        self._order: list[Resident] = []
        self._said: set[str] = set()
        self.forgotten = 0  # walks forgotten for the budget (the tests count them)
        self._shared: dict[int, Event] = {}  # by position
        self.reads = SharedReads()  # what the partitions' lazy resumes read of the store

    # -- the log-wide events, decoded once ---------------------------------------------

    def parsed(self, position: int, state: bytes, record: dict[str, Any] | None = None) -> Event:
        """The event of a stored ``state`` (``record``: decoded already, handed over),
        kept if log-wide."""
        e = held_event(position, state, record)
        if e.type in _SHARED:
            self._shared[position] = e
        return e

    def known(self, position: int) -> Event | None:
        """The log-wide event at ``position``, if it was decoded."""
        return self._shared.get(position)

    def shared(self, events: Sequence[Event]) -> list[Event]:
        """``events`` (``findings_seeding.log_wide``), those every partition reads as
        decoded first."""
        return [self._shared.setdefault(e.position, e) if e.type in _SHARED else e for e in events]

    # -- the budget --------------------------------------------------------------------

    def make_room(self) -> None:
        """Before a walk that is not a partition's applies a batch (the contract
        level's): the partitions' walks used least recently are forgotten until the
        rest fit the budget (with a budget of one event: all of them)."""
        self._order = [r for r in self._order if r.held()]
        self._fit(keep=0)

    def settle(self, used: Resident) -> None:
        """Before and after ``used`` applies a batch: it is the one used most recently,
        and the walks used least recently are forgotten until the rest fit the budget."""
        self._order = [r for r in self._order if r is not used and r.held()]
        self._order.append(used)
        total = self._fit(keep=1)
        if self.budget is not None and total > self.budget and used.name not in self._said:
            self._said.add(used.name)
            log.warning(
                "%s alone holds %d events, more than LEDGER_FINDINGS_RESIDENT_EVENTS (%d):"
                " more partitions would make each smaller",
                used.name,
                total,
                self.budget,
            )

    def _fit(self, keep: int) -> int:
        """Forget the walks used least recently, all but the last ``keep``, until
        they hold no more than the budget together; the events they hold then (the
        log-wide ones, held by every walk, counted once)."""
        shared = len(self._shared)

        def own(r: Resident) -> int:
            return max(0, r.held() - shared)

        total = shared + sum(own(r) for r in self._order)
        while self.budget is not None and total > self.budget and len(self._order) > keep:
            oldest = self._order.pop(0)
            total -= own(oldest)
            oldest.forget()
            self.forgotten += 1
        return total
