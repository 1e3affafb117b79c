"""The timeline picture's findings lane: each finding of the asset as a mark on the time
axis, packed into as few rows as will hold them without overlap.

A state finding is a bar from where it opens to where it closes (or the axis ends); a
state finding that was cleared while still open (its trigger retracted or corrected,
superseded, resolved) ends where it was cleared, with a mark that says so, never as
"still open" up to today. A bar too short for its rule code has the code beside it,
and the row keeps room for it. An event finding or a discrepancy is a tag at its
instant, and tags at one instant sit side by side. Pure: no I/O, no markup
(``_timeline_svg.html`` draws the shapes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.ui.svg_layout import Scale, fit, instant, short_time
from api.ui.words import prose, term

FINDING_ROW = 18.0  # one row of the findings lane
FINDING_BAR = 12.0
FINDING_TAG = 13.0
TAG_CHAR = 6.2  # the tags' smaller font
LANE_PAD = 4.0
OUTSIDE_GAP = 4.0  # between a short bar and its label beside it

Finding = Mapping[str, Any]
# Where one finding sits in its row: the finding, its x and its width.
Placed = tuple[Finding, float, float]


@dataclass(frozen=True)
class FindingShape:
    """One finding in the findings lane: a bar from where a state finding opens to where
    it closes (or the axis ends), or a tag at the instant of an event or discrepancy."""

    finding_key: str
    rule: str
    kind: str  # state | event | discrepancy
    severity: str
    x: float
    width: float
    y: float  # top of its row
    height: float
    row: int
    label: str  # the full text, also the tooltip
    text: str  # what is written on it, or beside it
    closes: bool  # a state finding whose closing falls on the axis
    cleared: bool
    voided: bool = False  # an open state finding cleared: it ends where it was cleared
    text_x: float = 0.0
    text_anchor: str = "start"
    text_outside: bool = False  # the bar is too short: the label sits beside it

    @property
    def grave(self) -> bool:
        return self.severity in ("critical", "high")


@dataclass(frozen=True)
class _Label:
    """Where a bar's text goes: inside it, or beside it when the bar is too short."""

    text: str
    x: float
    anchor: str = "start"
    outside: bool = False


@dataclass(frozen=True)
class _Item:
    """What takes room in a row: one state finding's bar (with its label when that sits
    beside it), or the tags at one instant."""

    x0: float
    x1: float
    is_bar: bool
    placed: list[Placed]
    label: _Label | None = None
    voided: bool = False


def _finding_label(f: Finding) -> str:
    start = short_time(instant(f["valid_from"]))
    if f.get("kind") == "state":
        end = short_time(instant(f["valid_to"])) if f.get("valid_to") else "open"
        span = f"{start} – {end}"
    else:
        span = start
    label = f"{f['finding_key']} · {f.get('severity')} {f.get('kind')} · {span}"
    if f.get("summary"):
        label += f" · {prose(f['summary'])}"
    if f.get("detected_at"):
        label += f" · detected {short_time(instant(f['detected_at']))}"
    if f.get("cleared_at"):
        label += f" · cleared {short_time(instant(f['cleared_at']))}"
        if f.get("clear_reason"):
            label += f" ({term(f['clear_reason'])})"
    return label


def _bar_texts(f: Finding, voided: bool) -> list[str]:
    """What a bar may say, longest first: a cleared one says so when there is room."""
    name = term(f.get("rule_name") or "").lower()
    text = f"{f['rule']} {name}".strip()
    if voided:
        reason = term(f.get("clear_reason") or "") or "cleared"
        return [f"{text} · cleared ({reason})", f"{text} · cleared", text]
    return [text]


def _bar_label(
    f: Finding, x0: float, width: float, left: float, right: float, voided: bool
) -> _Label:
    """The bar's text inside it when at least its rule code fits; else the rule code
    beside it: after the bar, or before it when the axis ends too soon after."""
    texts = _bar_texts(f, voided)
    room = width - 4
    inside = next((t for t in texts if fit(t, room) == t), "") or fit(
        texts[-1], room, str(f["rule"])
    )
    if inside:
        return _Label(inside, x0 + 6)
    code = str(f["rule"])
    room = _tag_width(code) - 4
    after = x0 + width + OUTSIDE_GAP
    if after + room <= right or x0 - OUTSIDE_GAP - room < left:
        return _Label(code, after, "start", True)
    return _Label(code, x0 - OUTSIDE_GAP, "end", True)


def _ends(f: Finding, start: datetime, end: datetime) -> tuple[datetime | None, bool]:
    """Where a state finding's bar ends on the axis (``None``: it runs off the end) and
    whether that end is its clearing rather than its closing."""
    if f.get("valid_to"):
        closes = instant(f["valid_to"])
        return (closes if closes <= end else None), False
    if f.get("cleared_at"):
        # Open when it was cleared: it stopped holding then, as far as the ledger
        # knows. Never before it opened.
        cleared = max(instant(f["cleared_at"]), instant(f["valid_from"]))
        return (cleared if cleared <= end else None), cleared <= end
    return None, False


def _tag_width(rule: str) -> float:
    return round(len(rule) * TAG_CHAR + 10, 2)


def _items(
    found: Sequence[Finding], x: Scale, start: datetime, end: datetime, right: float
) -> list[_Item]:
    """The findings on the axis as row items, in the order rows are filled: by where
    they begin, bars before tags at one x."""
    items: list[_Item] = []
    tags: dict[float, list[Finding]] = {}
    left = x(start)
    for f in found:
        opens = instant(f["valid_from"])
        closes = instant(f["valid_to"]) if f.get("valid_to") else None
        if opens > end or (closes is not None and closes < start):
            continue
        if f.get("kind") == "state":
            x0 = x(opens)
            stops, voided = _ends(f, start, end)
            x1 = x(stops) if stops is not None else right
            width = max(x1 - x0, 3.0)
            label = _bar_label(f, x0, width, left, right, voided)
            # A label beside the bar takes room in the row as the bar does.
            lo, hi = x0, x0 + width
            if label.outside and label.anchor == "start":
                hi = label.x + _tag_width(label.text)
            elif label.outside:
                lo = label.x - _tag_width(label.text)
            items.append(_Item(lo, hi, True, [(f, x0, width)], label, voided))
        else:
            tags.setdefault(x(opens), []).append(f)
    for x0, group in tags.items():
        placed: list[Placed] = []
        at = x0
        for f in sorted(group, key=lambda g: (str(g["rule"]), str(g["finding_key"]))):
            w = _tag_width(str(f["rule"]))
            placed.append((f, at, w))
            at += w + 1
        items.append(_Item(x0, at, False, placed))
    items.sort(key=lambda i: (i.x0, not i.is_bar, i.x1))
    return items


def _rows(items: Sequence[_Item]) -> tuple[list[int], int]:
    """Each item's row (the first where it does not overlap what is already there; bars
    may touch end to end), and how many rows there are."""
    rows: list[tuple[float, bool]] = []  # where each row ends, and whether with a bar
    chosen: list[int] = []
    for item in items:
        for r, (row_end, bar_end) in enumerate(rows):
            if item.x0 >= row_end + (0.0 if item.is_bar and bar_end else 3.0):
                row = r
                rows[r] = (item.x1, item.is_bar)
                break
        else:
            row = len(rows)
            rows.append((item.x1, item.is_bar))
        chosen.append(row)
    return chosen, len(rows)


def _shape(
    f: Finding, fx: float, width: float, row: int, top: float, end: datetime, item: _Item
) -> FindingShape:
    y = top + LANE_PAD + row * FINDING_ROW
    kind = str(f.get("kind"))
    rule = str(f["rule"])
    closes_on_axis = bool(f.get("valid_to")) and instant(f["valid_to"]) <= end
    label = item.label
    if kind == "state" and label is not None:
        text, text_x, anchor, outside = label.text, label.x, label.anchor, label.outside
        height = FINDING_BAR
    else:
        text, text_x, anchor, outside = rule, fx + width / 2, "middle", False
        height = FINDING_TAG
    return FindingShape(
        finding_key=str(f["finding_key"]),
        rule=rule,
        kind=kind,
        severity=str(f.get("severity")),
        x=round(fx, 2),
        width=round(width, 2),
        y=round(y + (FINDING_ROW - 2 - height) / 2, 2),
        height=height,
        row=row,
        label=_finding_label(f),
        text=text,
        closes=kind == "state" and closes_on_axis,
        cleared=bool(f.get("cleared_at")),
        voided=item.voided,
        text_x=round(text_x, 2),
        text_anchor=anchor,
        text_outside=outside,
    )


def finding_shapes(
    found: Sequence[Finding],
    x: Scale,
    start: datetime,
    end: datetime,
    right: float,
    top: float,
) -> tuple[list[FindingShape], int]:
    """Lay the findings out in rows: each goes into the first row where it does not
    overlap what is already there. Events and discrepancies at one instant sit side by
    side as a group of tags; bars may touch end to end. Returns the shapes and the
    number of rows."""
    items = _items(found, x, start, end, right)
    rows, count = _rows(items)
    shapes = [
        _shape(f, fx, width, row, top, end, item)
        for item, row in zip(items, rows, strict=True)
        for f, fx, width in item.placed
    ]
    return shapes, count
