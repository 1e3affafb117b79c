"""The interval rules (``WHOLE_RULES``) of one asset, resumed after an extension
instead of judged again over its whole history (:func:`resumed_rules`).

:class:`~domain.rules.asset_memo.AssetMemo` extends an asset with steps appended at
the end of its world order. The segments before its last group stay as they were (the
very objects), the last group's are rebuilt and new ones may follow. Two indices
describe an evaluation:

* ``changed`` — the first segment that may differ from those of the last evaluation
  (the first of the group the extension rebuilt; 0 for a memo built afresh);
* ``settled`` — the first segment that a later extension may rebuild (the first of
  the last group now). While the memo extends, the segments before it are final.

With the reference, registration and dispositions unchanged (else the memo is built
afresh), each rule keeps what is final and judges only the rest:

* R01, R03 and R13 judge maximal runs of segments with the same key
  (:func:`~domain.rules.facts.runs_of`). A run whose last segment comes before
  ``settled - 1`` is final: its segments and the one after it (which ends the run and
  whose opening events close it) all come before ``settled``. Its piece is kept. The
  next evaluation starts from the first run that was not final (or from
  ``settled - 1``, which is then in no run), with the keys of the segments before
  ``changed`` kept. R01 and R13 merge pieces that share a key
  (:func:`~domain.rules.making.merge_same_key`): that is a fold over the pieces in
  order, so the fold of the final pieces is kept and the others are folded onto it.
* R13 also reads which event set a ``last_verified_at`` or ``partner_entry_at``
  (:class:`~domain.rules.facts.StepIndex`), the last to set it: should an appended
  step set such a value again, naming another event, a kept piece could name the
  wrong one, so R13 is then judged afresh (``StepIndex.rewrites``).
* R12 judges the work orders of the step index: all but the last are final (a later
  step can only close the last one).
* R14 judges inventories. Those that name the asset are among its steps: each is
  judged once, when its step comes. One that does not name it is judged by the
  custodian just before it in world order, so one earlier than the asset's last step
  is final: what it found is kept, by event version. When the cut's inventories
  change (an inventory anywhere, which does not build the memo again) or the asset
  has a new custodian, the candidates are looked up again and those judged before
  taken as they were. One later than the asset's last step is judged by the state
  after it, again once the asset has more steps.

The reference evaluation (``Evaluator(incremental=False)``) builds every memo afresh,
which judges everything: the tests hold the resumed rules to it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from typing import Protocol

from domain.history import Event, WorldKey
from domain.rules.custody import r01_key, r01_piece, r03_key, r03_piece
from domain.rules.facts import AssetFacts, RunPiece, SegmentKey, custodian_in, runs_in
from domain.rules.findings import Finding, ordered
from domain.rules.inventory import (
    r13_key,
    r13_piece,
    r14_candidates,
    r14_named,
    r14_unnamed_one,
)
from domain.rules.maintenance import r12_piece
from domain.rules.making import merge_into


class Resumed(Protocol):
    """One interval rule's findings for one asset, kept between evaluations."""

    def findings(self, f: AssetFacts, changed: int, settled: int) -> list[Finding]: ...

    @property
    def kept(self) -> int:
        """How much the last evaluation took as it was from the ones before (final
        pieces, work orders, inventories' findings) instead of judging it again."""
        ...


class SegmentRuns:
    """A rule over maximal runs of segments with the same key (R01, R03, R13)."""

    __slots__ = (
        "_count",
        "_final",
        "_guard",
        "_guarded",
        "_key",
        "_keys",
        "_merge",
        "_piece",
        "_reused",
        "_start",
    )

    def __init__(
        self,
        key: SegmentKey,
        piece: RunPiece,
        *,
        merge: bool,
        guard: Callable[[AssetFacts], object] | None = None,
    ) -> None:
        self._key, self._piece, self._merge, self._guard = key, piece, merge, guard
        self._guarded: object = None
        self._reset()

    def _reset(self) -> None:
        self._keys: list[object | None] = []  # per segment, up to ``changed``
        self._start = 0  # where the runs not final begin
        self._final: dict[str, Finding] | list[Finding] = {} if self._merge else []
        self._count = 0  # pieces in ``_final``
        self._reused = 0

    @property
    def kept(self) -> int:
        return self._reused

    def findings(self, f: AssetFacts, changed: int, settled: int) -> list[Finding]:
        if self._guard is not None:
            guarded = self._guard(f)
            if guarded != self._guarded:
                self._guarded, changed = guarded, 0
        if changed == 0 or changed <= self._start:
            self._reset()
            changed = 0
        self._reused = self._count
        keys, segs, key = self._keys, f.segments, self._key
        del keys[changed:]
        keys.extend(key(f, segs[i]) for i in range(len(keys), len(segs)))
        runs = runs_in(keys, self._start)
        final = 0
        while final < len(runs) and runs[final][2] < settled - 1:
            final += 1
        piece = self._piece
        kept = self._final
        for k, first, last in runs[:final]:
            p = piece(f, k, first, last)
            if p is None:
                continue
            self._count += 1
            if isinstance(kept, dict):
                merge_into(kept, p)
            else:
                kept.append(p)
        tail = runs[final:]
        if tail and tail[0][1] < settled:
            self._start = tail[0][1]
        else:
            self._start = max(self._start, settled - 1, 0)
        pieces = [p for k, first, last in tail if (p := piece(f, k, first, last)) is not None]
        if not isinstance(kept, dict):
            return [*kept, *pieces]
        if not pieces:
            return list(kept.values())
        out = dict(kept)
        for p in pieces:
            merge_into(out, p)
        return list(out.values())


class WorkOrders:
    """R12 over the work orders of the step index."""

    __slots__ = ("_done", "_final", "_reused")

    def __init__(self) -> None:
        self._done = 0  # orders judged final
        self._final: dict[str, Finding] = {}
        self._reused = 0

    @property
    def kept(self) -> int:
        return self._reused

    def findings(self, f: AssetFacts, changed: int, settled: int) -> list[Finding]:
        orders = f.index.orders
        if changed == 0:
            self._done, self._final = 0, {}
        self._reused = self._done
        for i in range(self._done, len(orders) - 1):
            p = r12_piece(f, *orders[i])
            if p is not None:
                merge_into(self._final, p)
        self._done = max(self._done, len(orders) - 1)
        pieces = [p for order in orders[self._done :] if (p := r12_piece(f, *order)) is not None]
        if not pieces:
            return list(self._final.values())
        out = dict(self._final)
        for p in pieces:
            merge_into(out, p)
        return list(out.values())


class Inventories:
    """R14 over the asset's inventory steps and the inventories of the cut.

    An inventory that does not name the asset and is not later than its last step is
    final: judged once by the custodian just before it, which later steps (appended
    after the last) do not change. Those are kept by inventory version; when the cut's
    inventories change (an inventory anywhere), only the versions added since the cut
    last seen are looked at (:meth:`CutFacts.inventories_since`), not every inventory
    again (one retracted or corrected: all again). Those later than
    the last step are judged by the custodian after it, kept while that and the cut
    are the same."""

    __slots__ = ("_final", "_later", "_named", "_named_done", "_reused", "_serial", "_upto")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._named: list[Finding] = []  # of the asset's inventory steps judged
        self._named_done = 0
        # What each final inventory that does not name the asset found (only those
        # that found something), by (position, event id): the version, the finding.
        self._final: dict[tuple[int, str], tuple[Event, Finding]] = {}
        self._upto: WorldKey | None = None  # the inventories up to it are final
        self._serial: int | None = None  # the cut's inventories judged against
        # The later ones, last judged: the cut's inventories, the first later one,
        # the custodians and the custodian after the last step then, what they found.
        self._later: tuple[int, int, int, str | None, list[Finding]] | None = None
        self._reused = 0

    @property
    def kept(self) -> int:
        return self._reused

    def stands(self, f: AssetFacts) -> bool:
        """Whether what R14 last found stands, the steps since having changed no state
        (``AssetMemo.whole``, ``still``): no inventory step of the asset is new, and
        the cut's inventories are those last judged. Each inventory is judged by the
        custodian just before it, and steps that change no state leave that custodian
        as it was, whether the inventory falls before or after them."""
        return self._serial == f.cut.inventory_serial and self._named_done == len(
            f.index.inventories
        )

    def findings(self, f: AssetFacts, changed: int, settled: int) -> list[Finding]:
        if changed == 0:
            self._reset()
        cut = f.cut
        self._reused = 0
        self._named += r14_named(f, self._named_done)
        self._named_done = len(f.index.inventories)
        if self._serial is not None and self._serial != cut.inventory_serial:
            self._take_changes(f)
        self._serial = cut.inventory_serial
        last = f.keys[-1] if f.keys else None
        at = cut.inventory_keys  # bisected as they are: no key called per comparison
        upto = bisect_right(at, last) if last is not None else 0
        if last is not None and (self._upto is None or last > self._upto):
            lo = 0 if self._upto is None else bisect_right(at, self._upto)
            self._judge(f, lo, upto)
            self._upto = last
        else:
            self._reused = len(self._final)
        # The inventories later than the last step are judged by the custodian after
        # it: with the same ones and the same custodian, what they found stands (an
        # observation or a support event of the asset changes neither).
        holder = custodian_in(f.steps[-1].after) if f.steps else None
        seen = (cut.inventory_serial, upto, len(f.index.custodians), holder)
        if self._later is not None and self._later[:4] == seen:
            later = self._later[4]
        else:
            later = [x for i in r14_candidates(f, upto, len(at)) if (x := r14_unnamed_one(f, i))]
            self._later = (*seen, later)
        final = [x for _, x in self._final.values()]
        return list(ordered([*self._named, *final, *later]))

    def _judge(self, f: AssetFacts, lo: int, hi: int) -> None:
        """Judge the cut's inventories ``lo``…``hi - 1`` that do not name the asset
        (they become final)."""
        inventories = f.cut.inventories
        for i in r14_candidates(f, lo, hi):
            e = inventories[i]
            x = r14_unnamed_one(f, i)
            if x is not None:
                self._final[(e.position, e.event_id)] = (e, x)

    def _take_changes(self, f: AssetFacts) -> None:
        """Bring the final inventories to the cut's: judge the versions added up to the
        last step judged (when one was removed, or from too far back: judge all)."""
        assert self._serial is not None
        cut = f.cut
        changes = cut.inventories_since(self._serial)
        if changes is None or changes[1] or self._upto is None:
            # Far back, or one retracted or corrected (the asset it expected is judged
            # afresh then anyway: it is among those the amendment touches).
            self._final, self._upto = {}, None
            return
        upto, at, subjects = self._upto, cut.inventory_keys, cut.inventory_subjects
        for e in changes[0]:
            key = e.world_key
            if key > upto:
                continue  # not final yet: judged when the steps reach it
            i = bisect_left(at, key)
            if f.asset_id in subjects[i]:
                continue  # it names the asset: one of its steps (r14_named)
            x = r14_unnamed_one(f, i)
            if x is not None:
                self._final[(e.position, e.event_id)] = (e, x)


def resumed_rules() -> Mapping[str, Resumed]:
    """A fresh state for each interval rule that resumes, by rule code."""
    return {
        "R01": SegmentRuns(r01_key, r01_piece, merge=True),
        "R03": SegmentRuns(r03_key, r03_piece, merge=False),
        "R12": WorkOrders(),
        "R13": SegmentRuns(r13_key, r13_piece, merge=True, guard=lambda f: f.index.rewrites),
        "R14": Inventories(),
    }
