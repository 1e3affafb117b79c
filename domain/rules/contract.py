"""Contract rules (DOMAIN.md §5): C01 suspension required, C02 enforcement gap, C03
suspension without cause (state, per contract), C04 support during suspension and C05
delivery during hold (event, per asset of the contract).

Choices where DOMAIN.md is silent (each is tested):

* C01–C03 merge intervals that touch. C02 and C03 measure their grace from the start
  of each uncovered piece, which is also the piece's key.
* C04 and C05 are judged per asset of their trigger, against the asset's contract
  (every trigger names its assets, so every key is ``RULE/trigger/asset``). C05 takes
  the delivery instant (``delivered_at``, else ``occurred_at``).
* A C01 finding shows what proves its piece: the *cover*, the fewest R03 findings of
  the piece whose intervals chain from its start to its end (from the start, the one
  reaching furthest; from within it, the one reaching furthest; … ties to the first
  in ``(valid_from, key)`` order). Its summary names their assets, its evidence and
  parties are theirs; a change to another member leaves it as it was. DOMAIN.md asks
  for "the evidence event ids", not for every member: on a contract of thousands of
  assets a piece can run for years with thousands of members, and naming them all made
  a new version of the finding, naming them all again, at each member's change
  (docs/decisions/0014). Which assets hold support back at an instant is the contract
  view's list (``domain.rules.compliance``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain

from domain.instants import to_key
from domain.rules.facts import ContractFacts, registration_contract
from domain.rules.findings import Finding, FindingKind, Severity, event_key, state_key
from domain.rules.making import Rule, distinct, make_finding
from domain.rules.spans import Span, ends_before, holds, subtract, suspensions, union
from domain.vocabulary import EventType

C01 = Rule("C01", "SUSPENSION_REQUIRED", FindingKind.STATE)
C02 = Rule("C02", "ENFORCEMENT_GAP", FindingKind.STATE)
C03 = Rule("C03", "SUSPENSION_WITHOUT_CAUSE", FindingKind.STATE)
C04 = Rule("C04", "SUPPORT_DURING_SUSPENSION", FindingKind.EVENT)
C05 = Rule("C05", "DELIVERY_DURING_HOLD", FindingKind.EVENT)


@dataclass(frozen=True, slots=True)
class _Piece:
    """A piece of the union of a contract's R03 intervals, with its cover (the R03
    findings that prove it) and the events of the cover: what opened it, and what
    closed the last (``closed_by``, empty while open)."""

    span: Span
    cover: tuple[Finding, ...]


def _c01_pieces(f: ContractFacts) -> list[_Piece]:
    r03 = sorted(
        (x for part in f.assets for x in part.unaccounted),
        key=lambda x: (x.valid_from, x.finding_key),
    )
    return [_piece(cover, stop) for cover, stop in _covers(r03)]


def _covers(r03: Iterable[Finding]) -> list[tuple[tuple[Finding, ...], datetime | None]]:
    """R03 findings (in ``(valid_from, key)`` order) grouped into pieces where they
    overlap or touch: each piece's cover (the module's docstring) and its end. One
    pass: the members that start within what the links taken so far reach are the
    candidates for the next link; when a member starts beyond, the candidate reaching
    furthest is taken (every member seen started within, so it reaches the piece's end
    so far, and the member starts within it)."""
    out: list[tuple[tuple[Finding, ...], datetime | None]] = []
    links: list[Finding] = []
    reach: datetime | None = None  # where the links taken so far end
    best: Finding | None = None  # the candidate reaching furthest beyond ``reach``
    end: datetime | None = None  # the piece's end so far
    for x in r03:
        if best is not None or links:
            if not ends_before(end, x.valid_from):  # x joins the piece
                if ends_before(reach, x.valid_from):
                    assert best is not None
                    links.append(best)
                    reach, best = best.valid_to, None
                if ends_before(reach, x.valid_to) and (
                    best is None or ends_before(best.valid_to, x.valid_to)
                ):
                    best = x
                end = _later(end, x.valid_to)
                continue
            out.append((_linked(links, best), end))
        links, reach, best, end = [], x.valid_from, x, x.valid_to
    if best is not None or links:
        out.append((_linked(links, best), end))
    return out


def _linked(links: list[Finding], best: Finding | None) -> tuple[Finding, ...]:
    return (*links, best) if best is not None else tuple(links)


def _piece(cover: Sequence[Finding], stop: datetime | None) -> _Piece:
    opened = distinct(chain.from_iterable(x.evidence for x in cover))
    closers = (cover[-1].evidence[-1],) if stop is not None and cover[-1].evidence else ()
    return _Piece(Span(cover[0].valid_from, stop, opened, closers), tuple(cover))


def _contract_finding(
    rule: Rule,
    f: ContractFacts,
    span: Span,
    key_instant: datetime,
    severity: Severity,
    summary: str,
    parties: Iterable[str | None],
    evidence: Iterable[str],
) -> Finding:
    return make_finding(
        rule,
        state_key(rule.code, f.contract_id, key_instant),
        severity,
        asset_id=None,
        contract_id=f.contract_id,
        parties=parties,
        evidence=evidence,
        summary=summary,
        valid_from=span.valid_from,
        valid_to=span.valid_to,
    )


def _sides(f: ContractFacts) -> tuple[str | None, str | None]:
    c = f.contract
    return (None, None) if c is None else (c.seller, c.title_holder)


def c01_suspension_required(
    f: ContractFacts, pieces: Sequence[_Piece] | None = None
) -> list[Finding]:
    out = []
    for piece in _c01_pieces(f) if pieces is None else pieces:
        assets = sorted({x.asset_id for x in piece.cover if x.asset_id})
        out.append(
            _contract_finding(
                C01,
                f,
                piece.span,
                piece.span.valid_from,
                Severity.HIGH,
                f"support under {f.contract_id} must be suspended since "
                f"{to_key(piece.span.valid_from)}: {', '.join(assets)} unaccounted for beyond "
                f"{f.terms.unaccounted_max_days} days",
                chain.from_iterable(x.parties for x in piece.cover),
                piece.span.opened_by,  # the cover's evidence, each id once
            )
        )
    return out


def c02_enforcement_gap(f: ContractFacts, pieces: Sequence[_Piece] | None = None) -> list[Finding]:
    suspended = suspensions(f.actions)
    out = []
    seller, holder = _sides(f)
    for piece in _c01_pieces(f) if pieces is None else pieces:
        for gap in subtract([piece.span], suspended):
            start = gap.valid_from + f.terms.enforcement_grace
            if gap.valid_to is not None and gap.valid_to <= start:
                continue
            out.append(
                _contract_finding(
                    C02,
                    f,
                    Span(start, gap.valid_to),
                    gap.valid_from,
                    Severity.CRITICAL,
                    f"support under {f.contract_id} required to be suspended since "
                    f"{to_key(gap.valid_from)} but not suspended, beyond "
                    f"{f.terms.enforcement_grace_days} days from {to_key(start)}",
                    (seller, holder),
                    (*gap.opened_by, *gap.closed_by),
                )
            )
    return out


def c03_suspension_without_cause(
    f: ContractFacts, pieces: Sequence[_Piece] | None = None
) -> list[Finding]:
    required = [p.span for p in (_c01_pieces(f) if pieces is None else pieces)]
    out = []
    seller, holder = _sides(f)
    for piece in subtract(suspensions(f.actions), required):
        start = piece.valid_from + f.terms.enforcement_grace
        if piece.valid_to is not None and piece.valid_to <= start:
            continue
        out.append(
            _contract_finding(
                C03,
                f,
                Span(start, piece.valid_to),
                piece.valid_from,
                Severity.MEDIUM,
                f"support under {f.contract_id} suspended without cause since "
                f"{to_key(piece.valid_from)}, beyond {f.terms.enforcement_grace_days} days "
                f"from {to_key(start)}",
                (seller, holder),
                (*piece.opened_by, *piece.closed_by),
            )
        )
    return out


def covering(spans: Sequence[Span], t: datetime) -> Span | None:
    """The span containing ``t`` among merged spans (sorted, apart): the last one that
    starts by ``t``, if it has not ended."""
    i = bisect_right(spans, t, key=_start)
    return spans[i - 1] if i and spans[i - 1].contains(t) else None


def _start(s: Span) -> datetime:
    return s.valid_from


def c04_support_during_suspension(f: ContractFacts) -> list[Finding]:
    suspended = union(suspensions(f.actions))
    if not suspended:
        return []
    out = []
    for part in f.assets:
        for e in part.support:
            span = covering(suspended, e.occurred_at)
            if span is None:
                continue
            who = e.text(
                "provider_party" if e.type is EventType.SUPPORT_PROVIDED else "performed_by_party"
            )
            if not f.ref.seller_side(who, f.contract_id):
                continue
            out.append(
                make_finding(
                    C04,
                    event_key("C04", e.event_id, part.asset_id),
                    Severity.HIGH,
                    asset_id=part.asset_id,
                    contract_id=f.contract_id,
                    parties=(who, e.text("recipient_party")),
                    evidence=(e.event_id, *span.opened_by),
                    summary=(
                        f"{e.type.value} for {part.asset_id} by seller-side {who} at "
                        f"{to_key(e.occurred_at)} while support under {f.contract_id} "
                        f"was suspended"
                    ),
                    valid_from=e.occurred_at,
                    trigger=e.event_id,
                )
            )
    return out


def c05_delivery_during_hold(f: ContractFacts) -> list[Finding]:
    held = union(holds(f.actions))
    if not held:
        return []
    out = []
    seller, _ = _sides(f)
    for part in f.assets:
        e = part.registration
        if e is None or registration_contract(e) != f.contract_id:
            continue
        delivered = e.instant("delivered_at") or e.occurred_at
        span = covering(held, delivered)
        if span is None:
            continue
        out.append(
            make_finding(
                C05,
                event_key("C05", e.event_id, part.asset_id),
                Severity.HIGH,
                asset_id=part.asset_id,
                contract_id=f.contract_id,
                parties=(seller, e.text("initial_custodian")),
                evidence=(e.event_id, *span.opened_by),
                summary=(
                    f"{part.asset_id} delivered under {f.contract_id} at {to_key(delivered)} "
                    f"while a delivery hold was in effect"
                ),
                valid_from=e.occurred_at,
                trigger=e.event_id,
            )
        )
    return out


def contract_state_rules(f: ContractFacts) -> list[Finding]:
    """C01–C03, sharing the union of the assets' R03 intervals they all start from."""
    pieces = _c01_pieces(f)
    return [
        *c01_suspension_required(f, pieces),
        *c02_enforcement_gap(f, pieces),
        *c03_suspension_without_cause(f, pieces),
    ]


class StateRules:
    """C01–C03 of one contract, judged again and again as its assets' R03 findings
    change (a walk through knowledge time): what :func:`contract_state_rules` gives,
    without sorting every R03 finding of the contract and making every piece's
    findings again each time. The R03 findings are kept sorted, each asset's replaced
    when its part changes, and only the pieces the replaced findings overlap or touch
    are grouped again (from the R03 findings between the first such piece's start and
    the last one's end). A piece with the same end and cover (the same findings) as
    before, and the C02 of such a piece under the same suspensions and terms, are
    taken as made before (the same objects): a change to a member outside the cover
    makes nothing new. A change of the contract, its terms, sides or actions makes
    every piece's findings again."""

    __slots__ = ("_added", "_context", "_held", "_made", "_out", "_sorted", "_taken")

    def __init__(self) -> None:
        self._held: dict[str, tuple[Finding, ...]] = {}  # asset → its R03 findings
        self._sorted: list[tuple[datetime, str, Finding]] = []
        # Per piece, in order: the piece with its C01 and C02 findings.
        self._made: list[tuple[_Piece, Finding, list[Finding]]] = []
        # R03 findings taken away and added since the last judgement.
        self._taken: list[Finding] = []
        self._added: list[Finding] = []
        self._context: object = None
        self._out: list[Finding] = []

    def findings(
        self, f: ContractFacts, changed: Mapping[str, tuple[Finding, ...]] | None = None
    ) -> list[Finding]:
        """C01–C03 of ``f``, whose parts must be every asset of the contract with R03
        findings (others are taken to have none); or, with ``changed``, of the R03
        findings held, those of the assets in ``changed`` replaced (``f``'s parts are
        then not read)."""
        if changed is None:
            now = {p.asset_id: p.unaccounted for p in f.assets if p.unaccounted}
            for a in [a for a in self._held if a not in now]:
                self._replace(a, ())
        else:
            now = dict(changed)
        for a, found in now.items():
            held = self._held.get(a)
            if held is not found and held != found:  # most parts: the same tuple
                self._replace(a, found)
            elif held is not found:
                self._held[a] = found  # equal: compare by identity next time
        # A piece's findings name the contract, its terms and sides, and (C02) its
        # suspensions: made again when those change.
        context = (f.contract_id, f.terms, _sides(f), f.actions)
        if context != self._context:
            self._context, self._taken, self._added = context, [], []
            self._made = self._make(f, self._sorted, [])
        elif (self._taken or self._added) and not self._stand():
            self._regroup(f)
        else:
            return list(self._out)
        made = self._made
        self._out = [
            *(m[1] for m in made),
            *(x for m in made for x in m[2]),
            *c03_suspension_without_cause(f, [m[0] for m in made]),
        ]
        return list(self._out)

    def _regroup(self, f: ContractFacts) -> None:
        """Group again the pieces the replaced R03 findings overlap or touch: those
        from the first whose end is not before the earliest replaced start to the last
        whose start is not after the latest replaced end. Pieces are apart and in
        order, so their ends are in order too."""
        touched = [*self._taken, *self._added]
        self._taken, self._added = [], []
        lo = min(x.valid_from for x in touched)
        ends = [x.valid_to for x in touched]
        hi = None if None in ends else max(e for e in ends if e is not None)
        made = self._made
        j = len(made) if hi is None else bisect_right(made, hi, key=_made_start)
        i = min(bisect_left(made, lo, key=_made_end), j)
        start = lo if i == j else min(lo, made[i][0].span.valid_from)
        stop = hi if i == j else _later(hi, made[j - 1][0].span.valid_to)
        rows = self._sorted
        first = bisect_left(rows, start, key=_row_start)
        last = len(rows) if stop is None else bisect_right(rows, stop, key=_row_start)
        made[i:j] = self._make(f, rows[first:last], made[i:j])

    def _stand(self) -> bool:
        """Whether every piece and cover stands as it was (the R03 findings replaced
        since are then forgotten): each one taken away was no link of a cover (the
        links still chain its piece, and the greedy choice among the rest is the same),
        and each one added lies within a piece and does not outreach the link the
        greedy choice weighs it against (nor equal it, coming first). The common case
        on a contract of thousands: a piece of years, one member's interval moved."""
        made = self._made
        for x in self._taken:
            m = _piece_at(made, x.valid_from)
            if m is None or any(link.finding_key == x.finding_key for link in m[0].cover):
                return False
        for x in self._added:
            m = _piece_at(made, x.valid_from)
            if m is None or ends_before(m[0].span.valid_to, x.valid_to):
                return False
            # The first link whose reach x starts within: the one greedy weighs x against.
            reach: datetime | None = m[0].span.valid_from
            for link in m[0].cover:
                if not ends_before(reach, x.valid_from):
                    if ends_before(link.valid_to, x.valid_to) or (
                        link.valid_to == x.valid_to
                        and (x.valid_from, x.finding_key) < (link.valid_from, link.finding_key)
                    ):
                        return False
                    break
                reach = link.valid_to
        self._taken, self._added = [], []
        return True

    def _make(
        self,
        f: ContractFacts,
        rows: Sequence[tuple[datetime, str, Finding]],
        before: Sequence[tuple[_Piece, Finding, list[Finding]]],
    ) -> list[tuple[_Piece, Finding, list[Finding]]]:
        """The pieces of ``rows`` with their C01 and C02, those of ``before`` kept where
        a piece has the same cover and end."""
        kept = {tuple(x.finding_key for x in m[0].cover): m for m in before}
        out = []
        for cover, stop in _covers(x for _, _, x in rows):
            # By the cover's keys (their hashes are kept), then the cover itself (mostly
            # the very objects: a comparison by identity) and the piece's end.
            made = kept.get(tuple(x.finding_key for x in cover))
            if made is None or made[0].cover != cover or made[0].span.valid_to != stop:
                piece = _piece(cover, stop)
                made = (
                    piece,
                    c01_suspension_required(f, [piece])[0],
                    c02_enforcement_gap(f, [piece]),
                )
            out.append(made)
        return out

    def _replace(self, asset_id: str, found: tuple[Finding, ...]) -> None:
        rows = self._sorted
        for x in self._held.pop(asset_id, ()):
            i = bisect_left(rows, (x.valid_from, x.finding_key), key=_row_key)
            del rows[i]
            self._taken.append(x)
        for x in found:
            insort(rows, (x.valid_from, x.finding_key, x), key=_row_key)
            self._added.append(x)
        if found:
            self._held[asset_id] = found


_OPEN = datetime.max.replace(tzinfo=UTC)  # an open end, to compare with instants


def _piece_at(
    made: Sequence[tuple[_Piece, Finding, list[Finding]]], t: datetime
) -> tuple[_Piece, Finding, list[Finding]] | None:
    """The piece that starts last by ``t``, if ``t`` is within it (its end included)."""
    i = bisect_right(made, t, key=_made_start)
    if not i or ends_before(made[i - 1][0].span.valid_to, t):
        return None
    return made[i - 1]


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two ends (``None``: open)."""
    return None if a is None or b is None else max(a, b)


def _made_start(m: tuple[_Piece, Finding, list[Finding]]) -> datetime:
    return m[0].span.valid_from


def _made_end(m: tuple[_Piece, Finding, list[Finding]]) -> datetime:
    return m[0].span.valid_to or _OPEN


def _row_start(row: tuple[datetime, str, Finding]) -> datetime:
    return row[0]


def _row_key(row: tuple[datetime, str, Finding]) -> tuple[datetime, str]:
    return row[0], row[1]
