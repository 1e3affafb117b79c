"""Holding the findings the ledger keeps to the oracle's (``tests/oracle/model.py``),
at every knowledge instant of a log and with all knowledge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from domain.rules.lives import FindingLife
from tests.oracle import model

Row = tuple[str, str, str, str | None, str | None, datetime, datetime | None, str | None]


def _row(
    rule: str,
    kind: str,
    severity: str,
    asset: str | None,
    contract: str | None,
    vf: datetime,
    vt: datetime | None,
    trigger: str | None,
) -> Row:
    return (rule, kind, severity, asset, contract, vf, vt, trigger)


def expected(logged: Sequence[tuple[int, Mapping[str, Any]]], k: datetime | None) -> dict[str, Row]:
    """The oracle's findings at ``k``, as far as they are detected by then (a finding
    is never detected before its ``valid_from``)."""
    out = {}
    for key, f in model.findings(logged, k).items():
        if k is not None and f.valid_from > k:
            continue
        out[key] = _row(
            f.rule,
            f.kind,
            f.severity,
            f.asset_id,
            f.contract_id,
            f.valid_from,
            f.valid_to,
            f.trigger,
        )
    return out


def kept(lives: Mapping[str, FindingLife], k: datetime | None) -> dict[str, Row]:
    """The ledger's findings as known at ``k`` that are not cleared."""
    out = {}
    for key, life in lives.items():
        f = life.at(k)
        if f is None or f.cleared_at is not None:
            continue
        out[key] = _row(
            f.rule,
            f.kind.value,
            f.severity.value,
            f.asset_id,
            f.contract_id,
            f.valid_from,
            f.valid_to,
            f.trigger_event_id,
        )
    return out


def differences(
    logged: Sequence[tuple[int, Mapping[str, Any]]],
    lives: Mapping[str, FindingLife],
    instants: Sequence[datetime | None],
) -> list[str]:
    """Every disagreement, at each knowledge instant given, as a line a person reads."""
    out: list[str] = []
    for k in instants:
        want, got = expected(logged, k), kept(lives, k)
        when = "all knowledge" if k is None else f"known_at {k.isoformat()}"
        for key in sorted(set(want) | set(got)):
            if want.get(key) != got.get(key):
                out.append(f"{when}: {key}: oracle {want.get(key)} ledger {got.get(key)}")
    return out


def amendment_triggers(
    logged: Sequence[tuple[int, Mapping[str, Any]]], lives: Mapping[str, FindingLife]
) -> list[str]:
    """Findings (in any version of their life) whose trigger is a retraction or a
    correction: there must be none (DOMAIN.md §5, R08)."""
    amendments = {r["event_id"] for _, r in logged if r["type"] in model.META}
    return [
        key
        for key, life in lives.items()
        for change in life.changes
        if change.finding is not None and change.finding.trigger_event_id in amendments
    ]
