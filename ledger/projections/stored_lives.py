"""The stored lives of findings, for a walk that resumes (``Walk.resume``,
``Walk.resume_lazily``): summed up to a knowledge time, and held to what the resumed
walk makes again."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import groupby
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.instants import parse, to_stored
from domain.rules.findings import ClearReason, Finding
from domain.rules.lives import Change
from domain.rules.tracking import Drained, Prefix, StoredLivesDisagree
from ledger.projections.findings_codec import decode_version, finding_from_dict
from ledger.store.tables import finding_changes, findings

_UTC_Z = orjson.OPT_UTC_Z


class StoredLives:
    """The stored lives, for a walk that resumes (``Walk.resume``): :meth:`upto` sums
    them up to a knowledge time, :meth:`check` holds the changes the resumed walk made
    again (the last instant's) to those stored."""

    def __init__(
        self,
        conn: Connection,
        owns: Callable[[str], bool] | None = None,
        reads: SharedReads | None = None,
        rules: Collection[str] | None = None,
    ) -> None:
        self.conn = conn
        self.owns = owns  # the keys of the walk resumed (a partition's), else all
        self.reads = reads  # what the worker's other partitions read already
        self.rules = rules  # the only rules the walk judges (the contract level's), if so
        self.heads: dict[str, Prefix] = {}  # every stored life, whole
        self.later: set[str] = set()  # the lives with changes after the ``k`` of upto

    def read(self, what: Hashable, query: sa.Executable) -> Iterable[Any]:
        """The rows of ``query`` (over every partition's keys): read once for the
        worker's partitions when it has :class:`SharedReads`, else a thousand at a
        time as they are used (a partition resuming from the whole log read every
        partition's lives and changes at once: hundreds of MB at a million events)."""
        if self.reads is None:
            return self.conn.execute(query.execution_options(yield_per=1000))
        return self.reads.rows(what, lambda: list(self.conn.execute(query)))

    def upto(self, k: datetime, implied: Mapping[str, Finding]) -> dict[str, Prefix]:
        """Every stored life's changes up to knowledge time ``k``, summed up: from the
        finding rows, and for the few lives changed after ``k``, from their change
        rows. A latest version stored exactly as the finding ``implied`` at ``k`` (the
        same JSON) is that finding, not decoded again (most of them, on a restart)."""
        for key, data in self.rows():
            if not data["count"]:
                continue
            latest = data["latest"]
            now = implied.get(key)
            if now is not None and orjson.dumps(latest) == orjson.dumps(now, option=_UTC_Z):
                self.heads[key] = head(data, now)
            else:
                self.heads[key] = head(data, finding_from_dict(latest))
        out = dict(self.heads)
        for key, changes, _ in self.changed_after(k):
            if changes:
                out[key] = summed(changes)
            else:
                out.pop(key, None)
        return out

    def rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each stored life of the walk's keys: its key and its row's summary. Read a
        thousand rows at a time (a million-event ledger stores hundreds of thousands of
        lives, and the contract level's resume held them all at once: 600 MB), and
        only the rules' rows when the walk judges only some."""
        query = sa.select(findings.c.finding_key, findings.c.life)
        if self.rules is not None:
            query = query.where(findings.c.rule.in_(sorted(self.rules)))
        for key, life in self.conn.execute(query.execution_options(yield_per=1000)):
            if self.owns is None or self.owns(key):
                yield key, orjson.loads(life)

    def stored_head(self, key: str) -> Prefix | None:
        """The stored life of ``key``, whole, summed up (``None``: none is stored)."""
        return self.heads.get(key)

    def changed_after(self, k: datetime) -> Iterator[tuple[str, list[Change], Change | None]]:
        """Each stored life of the walk's keys with a change after ``k``: its changes up
        to ``k`` and its first change after (``later`` records their keys)."""
        after = to_stored(k)
        later = sa.select(finding_changes.c.finding_key).where(finding_changes.c.at > after)
        if self.rules is not None:  # keys begin with their rule (``R03/…``, ``C01/…``)
            later = later.where(
                sa.or_(*(finding_changes.c.finding_key.startswith(f"{r}/") for r in self.rules))
            )
        rows = self.read(
            ("changed after", after, None if self.rules is None else tuple(sorted(self.rules))),
            sa.select(
                finding_changes.c.finding_key,
                finding_changes.c.at,
                finding_changes.c.reason,
                finding_changes.c.finding,
            )
            .where(finding_changes.c.finding_key.in_(later.distinct().scalar_subquery()))
            .order_by(finding_changes.c.finding_key, finding_changes.c.seq),
        )
        for key, group in groupby(rows, key=lambda r: str(r.finding_key)):
            if self.owns is not None and not self.owns(key):
                continue
            self.later.add(key)
            changes: list[Change] = []
            first_later: Change | None = None
            version: Finding | None = None
            for row in group:
                data = None if row.finding is None else orjson.loads(row.finding)
                f = None if data is None else decode_version(version, data)
                why = None if row.reason is None else ClearReason(row.reason)
                change = Change(parse(row.at), f, why)
                if row.at > after:
                    first_later = change
                    break
                changes.append(change)
                version = f or version
            yield key, changes, first_later

    def check(self, drained: Sequence[Drained]) -> None:
        """The lives the resumed walk changed again are stored as it leaves them, and
        no other life changed after ``k``: else :class:`StoredLivesDisagree`."""
        changed = set()
        for d in drained:
            if d.changes:
                changed.add(d.key)
            if self.stored_head(d.key) != (d.after if d.after.count else None):
                raise StoredLivesDisagree(f"the stored life of {d.key} is not what the log implies")
        if self.later - changed:
            key = min(self.later - changed)
            raise StoredLivesDisagree(f"the stored life of {key} changed where the log does not")


class SharedReads:
    """What the lazy resumes of one worker's partitions read of the whole store
    (``findings_seeding.StoredSeed``: the lives not plain, the assets with lives, the
    changes after ``k``, the holders, the log-wide positions), read once for all of
    them: a worker restarting sixteen partitions read each table sixteen times (at
    200,000 events, 11 of a 15-second restart). A partition's own rows change only
    when it writes them, so the reads serve each partition that resumes at the same
    position and has not written since they were made (:meth:`begin`,
    :meth:`wrote`); each filters its own keys from them."""

    def __init__(self) -> None:
        self._at: int | None = None
        self._stale: set[str] = set()  # partitions that wrote since the reads
        self._rows: dict[Hashable, list[Any]] = {}
        self._wide: tuple[int, list[tuple[int, int, int | None]]] | None = None
        self.made = 0  # reads made (the tests count them)

    def begin(self, upto: int, name: str) -> None:
        """Partition ``name`` resumes at position ``upto``: the reads stand if they
        were made at ``upto`` and it has not written since; else they are made again."""
        if self._at != upto or name in self._stale:
            self._at, self._stale, self._rows = upto, set(), {}

    def log_wide(
        self, upto: int, read: Callable[[], list[tuple[int, int, int | None]]]
    ) -> list[tuple[int, int, int | None]]:
        """The log-wide positions up to ``upto`` (``findings_seeding.log_wide``: each
        with the position from which it is log-wide and its route key), ``read`` there
        unless rows read up to a later position are held: each walk keeps those up to
        its own end. Held whatever the partitions write, and across :meth:`begin`:
        what the event, amendment and route indexes hold up to a position the workers
        have reached (custody filed it) does not change. So the contract level's
        resume reads none after its worker's partition (about 55,000 rows at a million
        events, 0.9 s), nor does a partition after another."""
        if self._wide is None or self._wide[0] < upto:
            self._wide = (upto, read())
            self.made += 1
        return self._wide[1]

    def wrote(self, name: str) -> None:
        self._stale.add(name)

    def rows(self, what: Hashable, read: Callable[[], list[Any]]) -> list[Any]:
        if what not in self._rows:
            self._rows[what] = read()
            self.made += 1
        return self._rows[what]


def head(data: Mapping[str, Any], base: Finding) -> Prefix:
    """A stored life's row, summed up, its latest version ``base``."""
    last = data["last"]
    reason = None if last["reason"] is None else ClearReason(last["reason"])
    change = Change(parse(last["at"]), None if data["last_cleared"] else base, reason)
    return Prefix(data["count"], base, parse(data["first_at"]), change)


def decoded_head(data: Mapping[str, Any]) -> Prefix:
    """A stored life's row with changes, summed up, its latest version decoded."""
    return head(data, finding_from_dict(data["latest"]))


def summed(changes: Sequence[Change]) -> Prefix:
    """A life's first changes, summed up."""
    base = next((c.finding for c in reversed(changes) if c.finding is not None), None)
    return Prefix(len(changes), base, changes[0].at, changes[-1])
