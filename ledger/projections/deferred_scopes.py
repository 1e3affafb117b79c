"""The asset scopes a restarted findings walk defers (``domain.rules.seeding.
Deferred``): what it reads of them at once (:class:`Apart`) and where it reads their
other lives when it first needs them (:class:`StoredScopesIn`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.rules.collector import collector_paused
from domain.rules.findings import Finding
from domain.rules.impact import ScopeKey, scope_for
from domain.rules.lives import Change
from domain.rules.tracking import Prefix
from ledger.projections.findings_codec import finding_from_dict
from ledger.projections.stored_lives import decoded_head, summed
from ledger.store.tables import findings


class BatchSource(Protocol):
    """Where the lives are read later: ``conn``, the connection of the batch being
    applied (``findings_seeding.StoredEventsIn``)."""

    conn: Connection


class Apart:
    """What a restart reads at once of the deferred asset scopes (``assets``): per
    scope, its findings pending at ``k`` with their lives up to ``k`` (``waiting``;
    among them the keys ``detected`` after ``k``), and per asset its R03s implied at
    ``k`` (``unaccounted``)."""

    def __init__(self, assets: set[str]) -> None:
        self.assets = assets
        self.waiting: dict[ScopeKey, dict[str, tuple[Finding, Prefix | None]]] = {}
        self.unaccounted: dict[str, list[Finding]] = {}
        self.detected: set[str] = set()

    def defers(self, scope: ScopeKey) -> bool:
        return scope[0] == "asset" and scope[1] in self.assets

    def detected_after(
        self, key: str, scope: ScopeKey, life: str, first: Change | None, upto: list[Change]
    ) -> Prefix:
        """A life of a deferred scope changed after ``k`` (its row ``life``; ``first``
        and its changes ``upto`` ``k``): a detection before the last instant
        (``deferrable``), so pending at ``k``. Its stored life, whole, summed up."""
        assert first is not None and first.finding is not None  # deferrable
        self._wait(key, scope, first.finding, summed(upto) if upto else None)
        self.detected.add(key)
        data = orjson.loads(life)
        return decoded_head(data)

    def row(self, key: str, scope: ScopeKey, data: dict[str, Any]) -> Prefix | None:
        """A row of a deferred scope read at once and not changed after ``k``: a
        pending finding (the tracker detects it when it comes due), or a visible
        ``R03`` (C01–C03 read the implied ones); any other row of it is read with its
        scope. The stored life, whole, summed up, if it has changes."""
        whole = None
        if data["count"]:
            whole = decoded_head(data)
        if (p := data["pending"]) is not None:
            self._wait(key, scope, finding_from_dict(p), whole)
        elif key.startswith("R03/") and whole is not None and not data["last_cleared"]:
            assert whole.base is not None
            self.unaccounted.setdefault(scope[1], []).append(whole.base)
        return whole

    def _wait(self, key: str, scope: ScopeKey, f: Finding, before: Prefix | None) -> None:
        self.waiting.setdefault(scope, {})[key] = (f, before)
        if f.rule == "R03":
            self.unaccounted.setdefault(scope[1], []).append(f)


class StoredScopesIn:
    """The stored lives of the deferred asset scopes (``domain.rules.seeding.
    StoredScopes``), read through ``source.conn`` (the connection of the batch being
    applied) when the walk first needs them; ``owns``: the walk's keys (a
    partition's)."""

    def __init__(self, source: BatchSource, owns: Callable[[str], bool] | None) -> None:
        self.source = source
        self.owns = owns

    def lives(self, scope: ScopeKey) -> dict[str, Prefix]:
        """The scope's lives with changes (a pending finding's may have none)."""
        with collector_paused():
            return {
                key: decoded_head(data)
                for key, life in _own_lives(self.source.conn, scope[1], self.owns)
                if (data := orjson.loads(life))["count"]
            }

    def scope_of(self, key: str) -> ScopeKey | None:
        row = self.source.conn.execute(
            sa.select(findings.c.rule, findings.c.contract_id, findings.c.asset_id).where(
                findings.c.finding_key == key
            )
        ).first()
        return None if row is None else scope_for(row.rule, row.contract_id, row.asset_id)


def _own_lives(
    conn: Connection, asset_id: str, owns: Callable[[str], bool] | None
) -> list[tuple[str, str]]:
    """The stored lives of the asset's own scope (of the walk's keys): key and row, for
    one asset the walk needs (many at once: :meth:`StoredSeed._rows_of_assets`)."""
    rows = conn.execute(
        sa.select(findings.c.finding_key, findings.c.life).where(
            findings.c.asset_id == asset_id, ~findings.c.rule.startswith("C")
        )
    )
    return [(key, life) for key, life in rows if owns is None or owns(key)]
