"""The timeline picture's findings lane: each finding of the asset as a mark on the time
axis, packed into as few rows as will hold them without overlap.

A state finding is a bar from where it opens to where it closes (or the axis ends); an
event finding or a discrepancy is a tag at its instant, and tags at one instant sit side
by side. Pure: no I/O, no markup (``_timeline_svg.html`` draws the shapes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.ui.svg_layout import Scale, fit, instant, short_time

FINDING_ROW = 18.0  # one row of the findings lane
FINDING_BAR = 12.0
FINDING_TAG = 13.0
TAG_CHAR = 6.2  # the tags' smaller font
LANE_PAD = 4.0

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
    text: str  # what is written on it
    closes: bool  # a state finding whose closing falls on the axis
    cleared: bool

    @property
    def grave(self) -> bool:
        return self.severity in ("critical", "high")


@dataclass(frozen=True)
class _Item:
    """What takes room in a row: one state finding's bar, or the tags at one instant."""

    x0: float
    x1: float
    is_bar: bool
    placed: list[Placed]


def _finding_label(f: Finding) -> str:
    start = short_time(instant(f["valid_from"]))
    if f.get("kind") == "state":
        end = short_time(instant(f["valid_to"])) if f.get("valid_to") else "open"
        span = f"{start} – {end}"
    else:
        span = start
    label = f"{f['finding_key']} · {f.get('severity')} {f.get('kind')} · {span}"
    if f.get("summary"):
        label += f" · {f['summary']}"
    if f.get("detected_at"):
        label += f" · detected {short_time(instant(f['detected_at']))}"
    if f.get("cleared_at"):
        label += f" · cleared {short_time(instant(f['cleared_at']))}"
        if f.get("clear_reason"):
            label += f" ({str(f['clear_reason']).replace('_', ' ')})"
    return label


def _tag_width(rule: str) -> float:
    return round(len(rule) * TAG_CHAR + 10, 2)


def _items(
    found: Sequence[Finding], x: Scale, start: datetime, end: datetime, right: float
) -> list[_Item]:
    """The findings on the axis as row items, in the order rows are filled: by where
    they begin, bars before tags at one x."""
    items: list[_Item] = []
    tags: dict[float, list[Finding]] = {}
    for f in found:
        opens = instant(f["valid_from"])
        closes = instant(f["valid_to"]) if f.get("valid_to") else None
        if opens > end or (closes is not None and closes < start):
            continue
        if f.get("kind") == "state":
            x0 = x(opens)
            x1 = x(closes) if closes is not None and closes <= end else right
            width = max(x1 - x0, 3.0)
            items.append(_Item(x0, x0 + width, True, [(f, x0, width)]))
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
    f: Finding, fx: float, width: float, row: int, top: float, end: datetime
) -> FindingShape:
    y = top + LANE_PAD + row * FINDING_ROW
    kind = str(f.get("kind"))
    rule = str(f["rule"])
    closes_on_axis = bool(f.get("valid_to")) and instant(f["valid_to"]) <= end
    if kind == "state":
        full = f"{rule} {str(f.get('rule_name') or '').replace('_', ' ').lower()}"
        text = fit(full.strip(), width - 4, rule)
        height = FINDING_BAR
    else:
        text = rule
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
        _shape(f, fx, width, row, top, end)
        for item, row in zip(items, rows, strict=True)
        for f, fx, width in item.placed
    ]
    return shapes, count
