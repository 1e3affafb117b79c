"""Reading findings with their life (DOMAIN.md §5): a finding's changes in knowledge
time (:class:`FindingLife`), the lives of every finding (:class:`Lives`), the views
over them, and the findings filters of SPEC.md §2.

Views. :func:`known_then` — every finding detected by the view's knowledge time, each
as then known (version, clearing, disposition): what an auditor could have seen.
:func:`hindsight` — every finding with all knowledge, its latest version and full
life, optionally only those whose ``valid_from`` has come by a valid time.
:func:`select` applies the filters of SPEC.md §2.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from domain.rules.findings import ClearReason, Finding, FindingDisposition, FindingKind, ordered


@dataclass(frozen=True, slots=True)
class Change:
    """From ``at`` on (knowledge time) the finding is ``finding``; ``None``: cleared."""

    at: datetime
    finding: Finding | None
    reason: ClearReason | None = None


@dataclass(frozen=True, slots=True)
class FindingLife:
    """Every change of one finding in knowledge time; the first is its detection."""

    key: str
    changes: tuple[Change, ...]
    dispositions: tuple[tuple[datetime, FindingDisposition | None], ...] = ()

    @property
    def detected_at(self) -> datetime:
        return self.changes[0].at

    def at(self, known_at: datetime | None) -> Finding | None:
        """The finding as known at ``known_at`` (``None``: all knowledge), with its life
        as then known; ``None`` if not yet detected."""
        if known_at is not None and self.detected_at > known_at:
            return None
        last = self.changes[0]
        version = last.finding
        for c in self.changes[1:]:
            if known_at is not None and c.at > known_at:
                break
            last = c
            if c.finding is not None:
                version = c.finding
        assert version is not None
        disposition = None
        for at, d in self.dispositions:
            if known_at is not None and at > known_at:
                break
            disposition = d
        cleared = last.finding is None
        return version.with_life(
            self.detected_at,
            last.at if cleared else None,
            last.reason if cleared else None,
            disposition,
        )


class Lives(Mapping[str, FindingLife]):
    """The life of every finding, by key."""

    def __init__(self, lives: Iterable[FindingLife]) -> None:
        self._lives = {x.key: x for x in lives}

    def __getitem__(self, key: str) -> FindingLife:
        return self._lives[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lives)

    def __len__(self) -> int:
        return len(self._lives)

    def known_then(self, at: datetime) -> tuple[Finding, ...]:
        return known_then(self, at)

    def hindsight(self, as_of: datetime | None = None) -> tuple[Finding, ...]:
        return hindsight(self, as_of)


def known_then(lives: Mapping[str, FindingLife], at: datetime) -> tuple[Finding, ...]:
    """Findings detected by knowledge time ``at``, each with its version and life as
    known then (what the ledger showed at that time)."""
    return ordered(f for x in lives.values() if (f := x.at(at)) is not None)


def hindsight(
    lives: Mapping[str, FindingLife], as_of: datetime | None = None
) -> tuple[Finding, ...]:
    """Findings with all knowledge: latest version, full life; with ``as_of``, only
    those whose ``valid_from`` is at or before that valid time."""
    out = (f for x in lives.values() if (f := x.at(None)) is not None)
    return ordered(f for f in out if as_of is None or f.valid_from <= as_of)


# -- filters (SPEC.md §2) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """A knowledge-time window ``[start, end)``; either end may be open."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, t: datetime | None) -> bool:
        if t is None:
            return False
        return (self.start is None or self.start <= t) and (self.end is None or t < self.end)


@dataclass(frozen=True, slots=True)
class Filters:
    """The findings endpoint's filters. ``cleared``: ``False`` (default) only findings
    not cleared, ``True`` only cleared ones, ``None`` any. ``open``: state findings
    with ``valid_to`` unset (``True``) or set (``False``); event findings count as
    open unless closed (R16 after a disposition)."""

    rule: str | None = None
    kind: FindingKind | None = None
    asset: str | None = None
    contract: str | None = None
    party: str | None = None
    cleared: bool | None = False
    active_at: datetime | None = None
    open: bool | None = None
    detected: Window | None = None
    cleared_within: Window | None = None

    def keep(self, f: Finding) -> bool:
        return (
            (self.rule is None or f.rule == self.rule)
            and (self.kind is None or f.kind is self.kind)
            and (self.asset is None or f.asset_id == self.asset)
            and (self.contract is None or f.contract_id == self.contract)
            and (self.party is None or self.party in f.parties)
            and (self.cleared is None or f.cleared == self.cleared)
            and (self.active_at is None or f.active_at(self.active_at))
            and (self.open is None or f.open == self.open)
            and (self.detected is None or self.detected.contains(f.detected_at))
            and (self.cleared_within is None or self.cleared_within.contains(f.cleared_at))
        )


def select(findings: Iterable[Finding], filters: Filters | None = None) -> tuple[Finding, ...]:
    chosen = filters or Filters()
    return ordered(f for f in findings if chosen.keep(f))
