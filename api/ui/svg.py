"""The asset timeline as a picture: custody bands, repairs, observations, every
event and the asset's findings laid out on one time axis.

A pure function of a timeline (``Reads.timeline``'s JSON) and the parties as known:
no I/O, no markup. The template ``_timeline_svg.html`` draws the model, so Jinja's
autoescaping covers every label. Coordinates are in viewBox units (``WIDTH`` wide).

Each band style has its own pattern and a text label, so the picture reads without
colour (on a grey-scale print, or for a reader who cannot tell red from green). So do
the findings: a state finding is a bar with a bracket where it opens and another where
it closes (an arrow when it is still open); an event finding is a square tag and a
discrepancy a rounded one, each with its rule code; critical and high findings are
dark with light text, the others light; a cleared finding is dashed and struck out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

WIDTH = 1000.0
GUTTER = 112.0  # lane names on the left
RIGHT = 16.0
TOP = 28.0  # room for the "known at" label
CHAR = 6.9  # approximate advance of one character at the chart's font size
PAD_TEXT = 6.0

# (style, what the legend says). The order is the legend's.
STYLES: tuple[tuple[str, str], ...] = (
    ("authorised", "authorised custodian"),
    ("unauthorised", "unauthorised custodian"),
    ("armed-group", "armed group (or designated party), unauthorised"),
    ("none", "no custody (lost, or no custodian)"),
    ("terminal", "destroyed or decommissioned"),
)


@dataclass(frozen=True)
class Lane:
    name: str
    y: float
    height: float


@dataclass(frozen=True)
class BandShape:
    index: int
    custodian: str | None
    status: str
    mark: str  # as the JSON says: authorised | unauthorised | none | terminal
    style: str  # what is drawn: a mark, or ``armed-group``
    x: float
    width: float
    y: float
    height: float
    label: str  # the full text, also the tooltip
    text: str  # what fits inside the band ("" when nothing useful fits)
    valid_from: str
    valid_to: str | None


@dataclass(frozen=True)
class SpanShape:
    """A repair: from its start to its completion (open when not completed)."""

    x: float
    width: float
    y: float
    height: float
    label: str
    text: str
    open: bool
    event_ids: tuple[str, ...]
    text_x: float = 0.0  # inside the bar, or beside it
    text_anchor: str = "start"
    text_outside: bool = False


@dataclass(frozen=True)
class PointShape:
    x: float
    y: float
    kind: str  # observation | event
    label: str
    event_id: str
    retracted: bool
    corrected: bool
    lag_x: float | None = None  # where the report arrived, when on the axis


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
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class TimelineSvg:
    width: float
    height: float
    start: datetime
    end: datetime
    plot_left: float
    plot_right: float
    axis_y: float
    lanes: tuple[Lane, ...]
    bands: tuple[BandShape, ...]
    repairs: tuple[SpanShape, ...]
    observations: tuple[PointShape, ...]
    events: tuple[PointShape, ...]
    findings: tuple[FindingShape, ...]
    ticks: tuple[Tick, ...]
    known_at_x: float | None
    known_at_label: str
    cut_label: str | None = None  # the axis stops before as_of: where it would end


def instant(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def short_time(t: datetime) -> str:
    """A compact human form: the date, plus the time of day when it is not midnight."""
    t = t.astimezone(UTC)
    if (t.hour, t.minute, t.second, t.microsecond) == (0, 0, 0, 0):
        return t.strftime("%Y-%m-%d")
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _kind_at(party: Mapping[str, Any], t: datetime) -> str | None:
    kind = party.get("kind")
    for entry in party.get("kinds") or ():
        if instant(entry[0]) <= t:
            kind = entry[1]
    return str(kind) if kind is not None else None


def band_style(band: Mapping[str, Any], parties: Mapping[str, Mapping[str, Any]]) -> str:
    """The drawn style: the band's mark, except that unauthorised custody by an armed
    group (its kind when the band opened) or by any designated party is set apart."""
    mark = str(band["mark"])
    party = parties.get(band.get("custodian") or "")
    if mark == "unauthorised" and party is not None:
        kind = _kind_at(party, instant(band["valid_from"]))
        if kind == "armed_group" or party.get("designations"):
            return "armed-group"
    return mark


def band_label(band: Mapping[str, Any], style: str) -> str:
    custodian = band.get("custodian")
    status = str(band.get("status") or "").lower().replace("_", " ")
    if style == "terminal":
        return status or "terminal"
    if style == "none":
        return f"no custody ({status})" if status and status != "in custody" else "no custody"
    words = {
        "authorised": "authorised",
        "unauthorised": "unauthorised",
        "armed-group": "armed group, unauthorised",
    }
    return f"{custodian} · {words.get(style, style)}"


def fit(label: str, width: float, short: str | None = None) -> str:
    """The longest of ``label``, ``short`` or a truncation of ``label`` that fits."""
    room = int((width - 2 * PAD_TEXT) / CHAR)
    if len(label) <= room:
        return label
    if short and len(short) <= room:
        return short
    if room >= 4:
        return label[: room - 1].rstrip() + "…"
    return ""


def _scale(start: datetime, end: datetime, left: float, right: float) -> Any:
    span = (end - start).total_seconds()

    def x(t: datetime) -> float:
        f = (t - start).total_seconds() / span
        return round(left + max(0.0, min(1.0, f)) * (right - left), 2)

    return x


def ticks(start: datetime, end: datetime, most: int = 10) -> list[tuple[datetime, str]]:
    """Calendar ticks: years, months or days, at a step that gives at most ``most``."""
    span_days = (end - start).total_seconds() / 86400
    out: list[tuple[datetime, str]] = []
    if span_days > 365 * 2:
        step = next(s for s in (1, 2, 5, 10, 20, 50, 100) if span_days / 365.25 / s <= most)
        year = start.year + (datetime(start.year, 1, 1, tzinfo=UTC) < start)
        year += (-year) % step
        while True:
            t = datetime(year, 1, 1, tzinfo=UTC)
            if t > end:
                break
            if t >= start:
                out.append((t, str(year)))
            year += step
        return out
    if span_days > 62:
        step = next(s for s in (1, 2, 3, 6) if span_days / 30.44 / s <= most)
        y, m = start.year, start.month
        if start > datetime(y, m, 1, tzinfo=UTC):
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        while (m - 1) % step:
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        while True:
            t = datetime(y, m, 1, tzinfo=UTC)
            if t > end:
                break
            out.append((t, t.strftime("%Y-%m") if m == 1 or not out else t.strftime("%b")))
            for _ in range(step):
                y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out
    step = next(s for s in (1, 2, 7, 14) if span_days / s <= most) if span_days > 1 else 1
    day = datetime(start.year, start.month, start.day, tzinfo=UTC)
    if day < start:
        day += timedelta(days=1)
    while day <= end:
        out.append((day, day.strftime("%m-%d")))
        day += timedelta(days=step)
    return out


def _place_span_text(spans: list[SpanShape], left: float, right: float) -> list[SpanShape]:
    """Text inside a bar when it fits; else beside it (after it, or before it when there
    is more room there) — a repair of a few weeks on an axis of years is a sliver, and
    what it was matters."""
    placed: list[SpanShape] = []
    for i, span in enumerate(spans):
        if span.text == span.label or (span.text and span.width >= 120):
            placed.append(replace(span, text_x=span.x + 5))
            continue
        end = span.x + span.width
        after = (spans[i + 1].x if i + 1 < len(spans) else right) - end - 4
        before = span.x - (placed[-1].x + placed[-1].width if placed else left) - 4
        full = len(span.label) * CHAR + 2 * PAD_TEXT
        if after >= full or after >= before:
            text, text_x, anchor = fit(span.label, after), end + 4, "start"
        else:
            text, text_x, anchor = fit(span.label, before), span.x - 4, "end"
        if text:
            placed.append(
                replace(span, text=text, text_x=text_x, text_anchor=anchor, text_outside=True)
            )
        else:
            placed.append(replace(span, text_x=span.x + 5))
    return placed


def _payload(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    effective = entry.get("effective")
    return effective if isinstance(effective, Mapping) else entry.get("payload") or {}


def _repair_label(payload: Mapping[str, Any]) -> str:
    work = str(payload.get("work_type") or "repair").replace("_", " ")
    parts = [work]
    if payload.get("facility_id"):
        parts.append(f"at {payload['facility_id']}")
    if payload.get("performed_by_party"):
        parts.append(f"by {payload['performed_by_party']}")
    return " ".join(parts)


def _observation_label(entry: Mapping[str, Any]) -> str:
    p = _payload(entry)
    bits = [f"observed {short_time(instant(entry['occurred_at']))}"]
    if p.get("observed_party"):
        bits.append(f"with {p['observed_party']}")
    if p.get("condition"):
        bits.append(str(p["condition"]))
    if p.get("activity"):
        bits.append(f"— {p['activity']}")
    return " ".join(bits) + f" ({entry.get('confidence')})"


def _event_label(entry: Mapping[str, Any]) -> str:
    label = (
        f"{str(entry['type']).replace('_', ' ')} · {entry['event_id']} · "
        f"occurred {short_time(instant(entry['occurred_at']))}, "
        f"reported {short_time(instant(entry['reported_at']))}"
    )
    if entry.get("retracted"):
        label += " · retracted"
    if entry.get("corrections"):
        label += " · corrected"
    return label


FINDING_ROW = 18.0  # one row of the findings lane
FINDING_BAR = 12.0
FINDING_TAG = 13.0
TAG_CHAR = 6.2  # the tags' smaller font
LANE_PAD = 4.0


def _finding_label(f: Mapping[str, Any]) -> str:
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


def _findings(
    found: Sequence[Mapping[str, Any]],
    x: Any,
    start: datetime,
    end: datetime,
    left: float,
    right: float,
    top: float,
) -> tuple[list[FindingShape], int]:
    """Lay the findings out in rows: each goes into the first row where it does not
    overlap what is already there. Events and discrepancies at one instant sit side by
    side as a group of tags; bars may touch end to end."""
    # (x0, x1, is_bar, [(finding, x, width)])
    items: list[tuple[float, float, bool, list[tuple[Mapping[str, Any], float, float]]]] = []
    tags: dict[float, list[Mapping[str, Any]]] = {}
    for f in found:
        opens = instant(f["valid_from"])
        closes = instant(f["valid_to"]) if f.get("valid_to") else None
        if opens > end or (closes is not None and closes < start):
            continue
        if f.get("kind") == "state":
            x0 = x(opens)
            x1 = x(closes) if closes is not None and closes <= end else right
            width = max(x1 - x0, 3.0)
            items.append((x0, x0 + width, True, [(f, x0, width)]))
        else:
            tags.setdefault(x(opens), []).append(f)
    for x0, group in tags.items():
        placed = []
        at = x0
        for f in sorted(group, key=lambda g: (str(g["rule"]), str(g["finding_key"]))):
            w = _tag_width(str(f["rule"]))
            placed.append((f, at, w))
            at += w + 1
        items.append((x0, at, False, placed))
    items.sort(key=lambda i: (i[0], not i[2], i[1]))

    rows: list[tuple[float, bool]] = []  # where each row ends, and whether with a bar
    shapes: list[FindingShape] = []
    for x0, x1, is_bar, placed in items:
        for r, (row_end, bar_end) in enumerate(rows):
            if x0 >= row_end + (0.0 if is_bar and bar_end else 3.0):
                row = r
                rows[r] = (x1, is_bar)
                break
        else:
            row = len(rows)
            rows.append((x1, is_bar))
        y = top + LANE_PAD + row * FINDING_ROW
        for f, fx, width in placed:
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
            shapes.append(
                FindingShape(
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
            )
    return shapes, len(rows)


def timeline_svg(
    timeline: Mapping[str, Any],
    parties: Iterable[Mapping[str, Any]] = (),
    *,
    until_last: bool = False,
) -> TimelineSvg:
    """Lay out ``Reads.timeline``'s answer; ``parties`` as ``Reads.parties`` gives them.

    The axis runs from the first instant to ``as_of``. With ``until_last`` (for the
    default ``as_of``, now) it stops a little after the last thing there is to see —
    a band edge, an event, a report, the knowledge time — and says where it would
    have ended, so years of unchanged custody do not squeeze the history into a corner.
    """
    by_id = {str(p["party_id"]): p for p in parties}
    bands: Sequence[Mapping[str, Any]] = timeline.get("bands") or []
    events: Sequence[Mapping[str, Any]] = timeline.get("events") or []
    as_of = instant(timeline["as_of"])
    known_at = instant(timeline["known_at"])
    end = as_of
    starts = [instant(b["valid_from"]) for b in bands] + [instant(e["occurred_at"]) for e in events]
    start = min(starts) if starts else end - timedelta(days=365)
    if end <= start:
        end = start + timedelta(days=1)
    cut = False
    if until_last and starts:
        seen = starts + [instant(b["valid_to"]) for b in bands if b.get("valid_to")]
        seen += [instant(e["reported_at"]) for e in events]
        if known_at < as_of:
            seen.append(known_at)
        last = max(t for t in seen if t <= as_of)
        margin = max((last - start) * 0.12, timedelta(days=30))
        if last + margin * 2 < as_of:
            end, cut = last + margin, True
    # A little air before the first instant, so a mark on it is not cut in half.
    start -= (end - start) * 0.01

    left, right = GUTTER, WIDTH - RIGHT
    x = _scale(start, end, left, right)

    findings_top = TOP + 158
    finding_shapes, rows = _findings(
        timeline.get("findings") or [], x, start, end, left, right, findings_top
    )
    lanes = (
        Lane("custody", TOP, 44.0),
        Lane("repairs", TOP + 56, 22.0),
        Lane("observations", TOP + 90, 22.0),
        Lane("events", TOP + 124, 22.0),
        Lane("findings", findings_top, max(rows, 1) * FINDING_ROW + 2 * LANE_PAD - 2),
    )
    custody, repairs_lane, obs_lane, events_lane, findings_lane = lanes
    axis_y = findings_lane.y + findings_lane.height + 10

    band_shapes = []
    for i, b in enumerate(bands):
        style = band_style(b, by_id)
        x0 = x(instant(b["valid_from"]))
        x1 = x(instant(b["valid_to"])) if b.get("valid_to") else right
        width = max(x1 - x0, 1.5)
        label = band_label(b, style)
        short = b.get("custodian") or label
        band_shapes.append(
            BandShape(
                index=i + 1,
                custodian=b.get("custodian"),
                status=str(b.get("status")),
                mark=str(b["mark"]),
                style=style,
                x=x0,
                width=round(width, 2),
                y=custody.y,
                height=custody.height,
                label=label,
                text=fit(label, width, short),
                valid_from=b["valid_from"],
                valid_to=b.get("valid_to"),
            )
        )

    # Repairs pair by work order: start to completion, or open to the end of the axis.
    spans: list[SpanShape] = []
    open_orders: dict[str, tuple[Mapping[str, Any], float]] = {}
    order_index: list[str] = []
    for entry in timeline.get("repairs") or []:
        p = _payload(entry)
        order = str(p.get("work_order_id") or entry["event_id"])
        at = x(instant(entry["occurred_at"]))
        if entry["type"] == "repair_started":
            open_orders[order] = (entry, at)
            order_index.append(order)
            continue
        started = open_orders.pop(order, None)
        x0 = started[1] if started else at
        width = max(at - x0, 3.0)
        label = _repair_label(p)
        ids = (started[0]["event_id"], entry["event_id"]) if started else (entry["event_id"],)
        spans.append(
            SpanShape(
                x0,
                round(width, 2),
                repairs_lane.y,
                repairs_lane.height,
                label,
                fit(label, width, str(p.get("work_order_id") or "")),
                False,
                ids,
            )
        )
    for order in order_index:
        if order in open_orders:
            entry, x0 = open_orders[order]
            width = max(right - x0, 3.0)
            label = _repair_label(_payload(entry)) + " (not completed)"
            spans.append(
                SpanShape(
                    x0,
                    round(width, 2),
                    repairs_lane.y,
                    repairs_lane.height,
                    label,
                    fit(label, width, order),
                    True,
                    (entry["event_id"],),
                )
            )
    spans.sort(key=lambda s: s.x)
    spans = _place_span_text(spans, left, right)

    observations = tuple(
        PointShape(
            x(instant(o["occurred_at"])),
            obs_lane.y + obs_lane.height / 2,
            "observation",
            _observation_label(o),
            o["event_id"],
            False,
            bool(o.get("corrections")),
        )
        for o in timeline.get("observations") or []
    )

    points = []
    for e in events:
        occurred = instant(e["occurred_at"])
        reported = instant(e["reported_at"])
        lag_x = x(reported) if occurred < reported <= end else None
        points.append(
            PointShape(
                x(occurred),
                events_lane.y + events_lane.height / 2,
                "event",
                _event_label(e),
                e["event_id"],
                bool(e.get("retracted")),
                bool(e.get("corrections")),
                lag_x,
            )
        )

    known_x = x(known_at) if start < known_at < end else None
    return TimelineSvg(
        width=WIDTH,
        height=axis_y + 26,
        start=start,
        end=end,
        plot_left=left,
        plot_right=right,
        axis_y=axis_y,
        lanes=lanes,
        bands=tuple(band_shapes),
        repairs=tuple(spans),
        observations=observations,
        events=tuple(points),
        findings=tuple(finding_shapes),
        ticks=tuple(
            Tick(x(t), label)
            for t, label in ticks(start, end)
            # Leave room for the cut label.
            if not cut or x(t) < right - len(f"… to {as_of:%Y-%m-%d}") * CHAR - 24
        ),
        known_at_x=known_x,
        known_at_label=f"known at {short_time(known_at)}",
        cut_label=f"… to {as_of:%Y-%m-%d}" if cut else None,
    )
