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
from datetime import datetime, timedelta
from typing import Any

from api.ui.svg_findings import FINDING_ROW, LANE_PAD, FindingShape, finding_shapes
from api.ui.svg_layout import (
    CHAR,
    GUTTER,
    PAD_TEXT,
    RIGHT,
    TOP,
    WIDTH,
    Scale,
    fit,
    instant,
    scale,
    short_time,
    ticks,
)

FINDINGS_TOP = TOP + 158

Entry = Mapping[str, Any]  # one item of the timeline's JSON: a band, an event, a party

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


@dataclass(frozen=True)
class _Axis:
    start: datetime
    end: datetime
    cut: bool  # the axis stops before as_of


def _axis(
    bands: Sequence[Entry],
    events: Sequence[Entry],
    as_of: datetime,
    known_at: datetime,
    until_last: bool,
) -> _Axis:
    """From the first instant to ``as_of``, or (``until_last``) a margin after the last
    thing there is to see when ``as_of`` is much later; with a little air before the
    first instant, so a mark on it is not cut in half."""
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
    start -= (end - start) * 0.01
    return _Axis(start, end, cut)


def _lanes(finding_rows: int) -> tuple[Lane, ...]:
    """Custody, repairs, observations, events, then findings: as many rows as they need."""
    return (
        Lane("custody", TOP, 44.0),
        Lane("repairs", TOP + 56, 22.0),
        Lane("observations", TOP + 90, 22.0),
        Lane("events", TOP + 124, 22.0),
        Lane("findings", FINDINGS_TOP, max(finding_rows, 1) * FINDING_ROW + 2 * LANE_PAD - 2),
    )


def _band_shapes(
    bands: Sequence[Entry], by_id: Mapping[str, Entry], x: Scale, right: float, lane: Lane
) -> tuple[BandShape, ...]:
    shapes = []
    for i, b in enumerate(bands):
        style = band_style(b, by_id)
        x0 = x(instant(b["valid_from"]))
        x1 = x(instant(b["valid_to"])) if b.get("valid_to") else right
        width = max(x1 - x0, 1.5)
        label = band_label(b, style)
        short = b.get("custodian") or label
        shapes.append(
            BandShape(
                index=i + 1,
                custodian=b.get("custodian"),
                status=str(b.get("status")),
                mark=str(b["mark"]),
                style=style,
                x=x0,
                width=round(width, 2),
                y=lane.y,
                height=lane.height,
                label=label,
                text=fit(label, width, short),
                valid_from=b["valid_from"],
                valid_to=b.get("valid_to"),
            )
        )
    return tuple(shapes)


def _repair_spans(
    entries: Sequence[Entry], x: Scale, left: float, right: float, lane: Lane
) -> tuple[SpanShape, ...]:
    """Repairs pair by work order: start to completion, or open to the end of the axis."""
    spans: list[SpanShape] = []
    open_orders: dict[str, tuple[Entry, float]] = {}
    order_index: list[str] = []
    for entry in entries:
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
        text = fit(label, width, str(p.get("work_order_id") or ""))
        spans.append(SpanShape(x0, round(width, 2), lane.y, lane.height, label, text, False, ids))
    for order in order_index:
        if order in open_orders:
            spans.append(_open_repair(order, *open_orders[order], right, lane))
    spans.sort(key=lambda s: s.x)
    return tuple(_place_span_text(spans, left, right))


def _open_repair(order: str, entry: Entry, x0: float, right: float, lane: Lane) -> SpanShape:
    width = max(right - x0, 3.0)
    label = _repair_label(_payload(entry)) + " (not completed)"
    text = fit(label, width, order)
    return SpanShape(
        x0, round(width, 2), lane.y, lane.height, label, text, True, (entry["event_id"],)
    )


def _observation_points(entries: Sequence[Entry], x: Scale, lane: Lane) -> tuple[PointShape, ...]:
    return tuple(
        PointShape(
            x(instant(o["occurred_at"])),
            lane.y + lane.height / 2,
            "observation",
            _observation_label(o),
            o["event_id"],
            False,
            bool(o.get("corrections")),
        )
        for o in entries
    )


def _event_points(
    events: Sequence[Entry], x: Scale, end: datetime, lane: Lane
) -> tuple[PointShape, ...]:
    """Each event where it occurred, with a line to where it was reported when that
    falls later on the axis."""
    points = []
    for e in events:
        occurred = instant(e["occurred_at"])
        reported = instant(e["reported_at"])
        lag_x = x(reported) if occurred < reported <= end else None
        points.append(
            PointShape(
                x(occurred),
                lane.y + lane.height / 2,
                "event",
                _event_label(e),
                e["event_id"],
                bool(e.get("retracted")),
                bool(e.get("corrections")),
                lag_x,
            )
        )
    return tuple(points)


def _cut_label(as_of: datetime) -> str:
    return f"… to {as_of:%Y-%m-%d}"


def _axis_ticks(axis: _Axis, x: Scale, right: float, as_of: datetime) -> tuple[Tick, ...]:
    return tuple(
        Tick(x(t), label)
        for t, label in ticks(axis.start, axis.end)
        # Leave room for the cut label.
        if not axis.cut or x(t) < right - len(_cut_label(as_of)) * CHAR - 24
    )


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
    bands: Sequence[Entry] = timeline.get("bands") or []
    events: Sequence[Entry] = timeline.get("events") or []
    as_of = instant(timeline["as_of"])
    known_at = instant(timeline["known_at"])
    axis = _axis(bands, events, as_of, known_at, until_last)
    left, right = GUTTER, WIDTH - RIGHT
    x = scale(axis.start, axis.end, left, right)
    findings, rows = finding_shapes(
        timeline.get("findings") or [], x, axis.start, axis.end, right, FINDINGS_TOP
    )
    lanes = _lanes(rows)
    custody, repairs, observations, events_lane, findings_lane = lanes
    axis_y = findings_lane.y + findings_lane.height + 10
    return TimelineSvg(
        width=WIDTH,
        height=axis_y + 26,
        start=axis.start,
        end=axis.end,
        plot_left=left,
        plot_right=right,
        axis_y=axis_y,
        lanes=lanes,
        bands=_band_shapes(bands, by_id, x, right, custody),
        repairs=_repair_spans(timeline.get("repairs") or [], x, left, right, repairs),
        observations=_observation_points(timeline.get("observations") or [], x, observations),
        events=_event_points(events, x, axis.end, events_lane),
        findings=tuple(findings),
        ticks=_axis_ticks(axis, x, right, as_of),
        known_at_x=x(known_at) if axis.start < known_at < axis.end else None,
        known_at_label=f"known at {short_time(known_at)}",
        cut_label=_cut_label(as_of) if axis.cut else None,
    )
