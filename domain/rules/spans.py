"""Interval algebra in valid time for the contract rules and compliance: half-open
spans ``[valid_from, valid_to)`` (``None`` = open), their union and difference, and
the suspension and hold spans of a contract's actions (DOMAIN.md §5).

A suspension is in effect from each ``SUPPORT_SUSPENDED`` to the next
``SUPPORT_RESUMED`` of the contract, in world order; a hold likewise. Several
suspensions in a row are one, from the first; a resumption without a suspension does
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.history import Event
from domain.vocabulary import ContractActionKind


@dataclass(frozen=True, slots=True)
class Span:
    """``[valid_from, valid_to)`` with the events that opened and closed it."""

    valid_from: datetime
    valid_to: datetime | None
    opened_by: tuple[str, ...] = ()
    closed_by: tuple[str, ...] = ()

    def contains(self, t: datetime) -> bool:
        return self.valid_from <= t and (self.valid_to is None or t < self.valid_to)


def ends_before(a: datetime | None, b: datetime | None) -> bool:
    """``a < b`` where ``None`` is the open end."""
    return a is not None and (b is None or a < b)


def union(spans: Iterable[Span]) -> list[Span]:
    """Merge overlapping and touching spans."""
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: s.valid_from):
        if out and not ends_before(out[-1].valid_to, s.valid_from):
            last = out[-1]
            end = (
                None
                if last.valid_to is None or s.valid_to is None
                else max(last.valid_to, s.valid_to)
            )
            closed = s.closed_by if end == s.valid_to else last.closed_by
            out[-1] = Span(
                last.valid_from,
                end,
                tuple(dict.fromkeys((*last.opened_by, *s.opened_by))),
                closed,
            )
        else:
            out.append(s)
    return out


def subtract(spans: Iterable[Span], minus: Sequence[Span]) -> list[Span]:
    """The parts of ``spans`` not covered by ``minus`` (both merged first)."""
    cover = union(minus)
    out: list[Span] = []
    for s in union(spans):
        start: datetime | None = s.valid_from
        opened = s.opened_by
        for c in cover:
            if start is None:
                break
            if not ends_before(start, c.valid_to) or not ends_before(c.valid_from, s.valid_to):
                continue
            if start < c.valid_from:
                out.append(Span(start, c.valid_from, opened, c.opened_by))
            start, opened = c.valid_to, c.closed_by
        if start is not None and ends_before(start, s.valid_to):
            out.append(Span(start, s.valid_to, opened, s.closed_by))
    return out


def action_spans(
    actions: Iterable[Event], begin: ContractActionKind, end: ContractActionKind
) -> list[Span]:
    """In effect from each ``begin`` to the next ``end``, in world order (DOMAIN.md §5)."""
    # Cached: C02–C05 and compliance ask for the same contract's spans again and again
    # (the same tuple of its actions, from the knowledge cut), and events are
    # immutable. By the tuple's identity: hashing every action at each call, and
    # comparing equal copies of them (the walks of one process hold their own), cost
    # more than the spans; the cache keeps its tuples alive, so an id is not reused.
    held = actions if isinstance(actions, tuple) else tuple(actions)
    key = (id(held), begin, end)
    hit = _SPANS.get(key)
    if hit is None or hit[0] is not held:
        if len(_SPANS) >= 1024:
            _SPANS.clear()
        hit = _SPANS[key] = (held, _action_spans(held, begin, end))
    return list(hit[1])


_SPANS: dict[
    tuple[int, ContractActionKind, ContractActionKind], tuple[tuple[Event, ...], tuple[Span, ...]]
] = {}


def _action_spans(
    actions: tuple[Event, ...], begin: ContractActionKind, end: ContractActionKind
) -> tuple[Span, ...]:
    out: list[Span] = []
    since: Event | None = None
    for e in sorted(actions, key=lambda e: e.world_key):
        action = e.text("action")
        if action == begin.value and since is None:
            since = e
        elif action == end.value and since is not None:
            if e.occurred_at > since.occurred_at:
                out.append(Span(since.occurred_at, e.occurred_at, (since.event_id,), (e.event_id,)))
            since = None
    if since is not None:
        out.append(Span(since.occurred_at, None, (since.event_id,)))
    return tuple(out)


def suspensions(actions: Iterable[Event]) -> list[Span]:
    return action_spans(
        actions, ContractActionKind.SUPPORT_SUSPENDED, ContractActionKind.SUPPORT_RESUMED
    )


def holds(actions: Iterable[Event]) -> list[Span]:
    return action_spans(
        actions, ContractActionKind.DELIVERY_HOLD_IMPOSED, ContractActionKind.DELIVERY_HOLD_LIFTED
    )
