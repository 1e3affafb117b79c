"""How a finding's life is stored: a version as what differs from the one before it
(``encode_version``/``decode_version``), a finding row's summary (``head_json``) and
reading it back (``FindingHead``). The projection writes with these; readers decode."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson

from domain.instants import parse, to_stored
from domain.rules import (
    ClearReason,
    Finding,
    FindingDisposition,
    FindingKind,
    FindingLife,
    Severity,
)
from domain.rules.lives import Change
from domain.rules.tracking import Drained
from domain.vocabulary import Disposition


def _t(value: str | None) -> datetime | None:
    return None if value is None else parse(value)


def finding_from_dict(d: dict[str, Any]) -> Finding:
    disposition = d.get("disposition")
    return Finding(
        finding_key=d["finding_key"],
        rule=d["rule"],
        rule_name=d["rule_name"],
        kind=FindingKind(d["kind"]),
        severity=Severity(d["severity"]),
        asset_id=d.get("asset_id"),
        contract_id=d.get("contract_id"),
        parties=tuple(d.get("parties", ())),
        evidence=tuple(d.get("evidence", ())),
        summary=d["summary"],
        valid_from=parse(d["valid_from"]),
        valid_to=_t(d.get("valid_to")),
        trigger_event_id=d.get("trigger_event_id"),
        detected_at=_t(d.get("detected_at")),
        cleared_at=_t(d.get("cleared_at")),
        clear_reason=None if d.get("clear_reason") is None else ClearReason(d["clear_reason"]),
        disposition=None if disposition is None else _disposition(disposition),
    )


def _disposition(d: dict[str, Any]) -> FindingDisposition:
    return FindingDisposition(
        disposition=Disposition(d["disposition"]),
        event_id=d["event_id"],
        rationale=d["rationale"],
        decided_at=parse(d["decided_at"]),
        reported_at=parse(d["reported_at"]),
    )


_TUPLES = ("parties", "evidence")
_CONTENT = tuple(
    name
    for name in Finding.__dataclass_fields__
    if name not in ("detected_at", "cleared_at", "clear_reason", "disposition")
)


def encode_version(base: Finding | None, f: Finding) -> dict[str, Any]:
    """A version of a finding as what differs from the version before it (``base``):
    a life stored whole would be rewritten at every change, and a state finding's
    evidence grows with its interval. Lists keep their common head and tail with the
    base and store only the middle."""
    if base is None:
        return {"full": f}
    out: dict[str, Any] = {}
    for name in _CONTENT:
        new, old = getattr(f, name), getattr(base, name)
        if new is old or new == old:
            continue
        out[name] = _list_delta(new, old) if name in _TUPLES else new
    return out


def _list_delta(new: tuple[str, ...], old: tuple[str, ...]) -> list[Any]:
    """``[head, tail, middle]``: ``new`` is ``old[:head] + middle + old[-tail:]``."""
    n = min(len(new), len(old))
    if new[:n] == old[:n]:  # grown or shrunk at the end: the common case
        head = n
    else:
        head = 0
        while new[head] == old[head]:
            head += 1
    tail = 0
    while tail < min(len(new), len(old)) - head and new[-1 - tail] == old[-1 - tail]:
        tail += 1
    return [head, tail, list(new[head : len(new) - tail])]


def decode_version(base: Finding | None, data: dict[str, Any]) -> Finding:
    if "full" in data:
        return finding_from_dict(data["full"])
    assert base is not None, "a delta needs the version before it"
    changes: dict[str, Any] = {}
    for name, value in data.items():
        if name in _TUPLES:
            head, tail, middle = value
            old = getattr(base, name)
            changes[name] = (*old[:head], *middle, *old[len(old) - tail :])
        elif name in ("valid_from", "valid_to"):
            changes[name] = _t(value)
        elif name == "kind":
            changes[name] = FindingKind(value)
        elif name == "severity":
            changes[name] = Severity(value)
        else:
            changes[name] = value
    return replace(base, **changes)


def dump(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()


def head_json(d: Drained, dispositions: Sequence[tuple[datetime, Any]]) -> str:
    """A finding's row: its life summed up (how many changes are stored, the first and
    last, the latest version, a pending detection) and its dispositions."""
    last = d.after.last
    return dump(
        {
            "key": d.key,
            "count": d.after.count,
            "first_at": d.after.first_at,
            "latest": d.after.base,
            "last": None if last is None else {"at": last.at, "reason": last.reason},
            "last_cleared": last is not None and last.finding is None,
            "pending": d.pending,
            "dispositions": [[at, x] for at, x in dispositions],
        }
    )


def read_lazily(
    rule: str, asset_id: str | None, count: int, pending: object, last_cleared: bool
) -> bool:
    """A row's ``lazy`` column: whether a lazily resumed walk may leave this stored life
    unread until it first needs its asset (``findings_seeding.StoredSeed``): an asset's
    own finding (not a contract's), *plain* at its last change (changes stored, nothing
    pending: what it implied is its visible version, if any; a change after the
    resume's instant the resume reads apart) and not an R03 still visible (the contract
    rules read those of every asset). A pending finding is read at once: the walk
    detects it when it comes due, its asset's other lives unread (decision 0033). Most
    rows are lazy: a restart at a million events reads the few others through a
    partial index instead of testing every row's JSON (decision 0032). The migration
    that added the column fills it with the same test, on the JSON."""
    return (
        asset_id is not None
        and not rule.startswith("C")
        and count > 0
        and pending is None
        and not (rule == "R03" and not last_cleared)
    )


def stored_valid_to(life: str) -> str | None:
    """A row's ``valid_to`` column from its ``life`` (:func:`head_json`): that of the
    version its ``valid_from`` is taken from, the pending one if any, else the latest;
    stored fixed-width (the migration that added the column fills it with this)."""
    data = orjson.loads(life)
    version = data["pending"] if data["pending"] is not None else data["latest"]
    value = None if version is None else version.get("valid_to")
    return None if value is None else to_stored(parse(value))


class FindingHead:
    __slots__ = ("count", "dispositions", "first_at", "key", "last", "latest", "pending")

    def __init__(self, data: dict[str, Any]) -> None:
        self.key: str = data["key"]
        self.count: int = data["count"]
        self.first_at = _t(data["first_at"])
        self.latest = None if data["latest"] is None else finding_from_dict(data["latest"])
        last = data["last"]
        self.last: Change | None = None
        if last is not None:
            reason = None if last["reason"] is None else ClearReason(last["reason"])
            finding = None if data["last_cleared"] else self.latest
            self.last = Change(parse(last["at"]), finding, reason)
        self.pending = None if data["pending"] is None else finding_from_dict(data["pending"])
        self.dispositions = tuple(
            (parse(at), None if x is None else _disposition(x)) for at, x in data["dispositions"]
        )

    @property
    def last_at(self) -> datetime | None:
        times = [c.at for c in (self.last,) if c is not None]
        if self.pending is not None:
            times.append(self.pending.valid_from)
        return max(times, default=None)

    def summary(self) -> FindingLife | None:
        """The life, exactly, when its stored changes are at most a detection and a
        clearing; else ``None``."""
        changes: list[Change] = []
        if self.count >= 1:
            assert self.first_at is not None and self.latest is not None
            if self.count == 2 and self.last is not None and self.last.finding is None:
                changes = [Change(self.first_at, self.latest), self.last]
            elif self.count == 1:
                changes = [Change(self.first_at, self.latest)]
            else:
                return None
        return self._life(changes)

    def upto_now(self) -> FindingLife:
        """A life that answers :meth:`FindingLife.at` like the whole one for any
        knowledge time at or after :attr:`last_at` (and ``None``)."""
        changes: list[Change] = []
        if self.count:
            assert self.first_at is not None and self.latest is not None
            changes = [Change(self.first_at, self.latest)]
            if self.last is not None and self.last.finding is None:
                changes.append(self.last)
        return self._life(changes)

    def _life(self, changes: list[Change]) -> FindingLife:
        if self.pending is not None:
            changes.append(Change(self.pending.valid_from, self.pending))
        return FindingLife(self.key, tuple(changes), self.dispositions)
