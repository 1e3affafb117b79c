"""The timeline picture's measures: the viewBox, reading and writing instants, the time
scale, calendar ticks, and how much of a label fits in a width.

Shared by the picture (``api.ui.svg``) and its findings lane (``api.ui.svg_findings``),
and by the pages' filters (``api.ui.format``), so a time reads the same everywhere.
Pure: no I/O, no markup.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

WIDTH = 1000.0
GUTTER = 112.0  # lane names on the left
RIGHT = 16.0
TOP = 28.0  # room for the "known at" label
CHAR = 6.9  # approximate advance of one character at the chart's font size
PAD_TEXT = 6.0

# An instant → its x in viewBox units, clamped to the plot.
Scale = Callable[[datetime], float]


def instant(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def short_time(t: datetime) -> str:
    """A compact human form: the date, plus the time of day when it is not midnight."""
    t = t.astimezone(UTC)
    if (t.hour, t.minute, t.second, t.microsecond) == (0, 0, 0, 0):
        return t.strftime("%Y-%m-%d")
    return t.strftime("%Y-%m-%d %H:%M UTC")


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


def scale(start: datetime, end: datetime, left: float, right: float) -> Scale:
    span = (end - start).total_seconds()

    def x(t: datetime) -> float:
        f = (t - start).total_seconds() / span
        return round(left + max(0.0, min(1.0, f)) * (right - left), 2)

    return x


def _next_month(y: int, m: int) -> tuple[int, int]:
    return (y + 1, 1) if m == 12 else (y, m + 1)


def _year_ticks(
    start: datetime, end: datetime, span_days: float, most: int
) -> list[tuple[datetime, str]]:
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100) if span_days / 365.25 / s <= most)
    year = start.year + (datetime(start.year, 1, 1, tzinfo=UTC) < start)
    year += (-year) % step
    out: list[tuple[datetime, str]] = []
    while True:
        t = datetime(year, 1, 1, tzinfo=UTC)
        if t > end:
            break
        if t >= start:
            out.append((t, str(year)))
        year += step
    return out


def _month_ticks(
    start: datetime, end: datetime, span_days: float, most: int
) -> list[tuple[datetime, str]]:
    step = next(s for s in (1, 2, 3, 6) if span_days / 30.44 / s <= most)
    y, m = start.year, start.month
    if start > datetime(y, m, 1, tzinfo=UTC):
        y, m = _next_month(y, m)
    while (m - 1) % step:
        y, m = _next_month(y, m)
    out: list[tuple[datetime, str]] = []
    while True:
        t = datetime(y, m, 1, tzinfo=UTC)
        if t > end:
            break
        out.append((t, t.strftime("%Y-%m") if m == 1 or not out else t.strftime("%b")))
        for _ in range(step):
            y, m = _next_month(y, m)
    return out


def _day_ticks(
    start: datetime, end: datetime, span_days: float, most: int
) -> list[tuple[datetime, str]]:
    step = next(s for s in (1, 2, 7, 14) if span_days / s <= most) if span_days > 1 else 1
    day = datetime(start.year, start.month, start.day, tzinfo=UTC)
    if day < start:
        day += timedelta(days=1)
    out: list[tuple[datetime, str]] = []
    while day <= end:
        out.append((day, day.strftime("%m-%d")))
        day += timedelta(days=step)
    return out


def ticks(start: datetime, end: datetime, most: int = 10) -> list[tuple[datetime, str]]:
    """Calendar ticks: years, months or days, at a step that gives at most ``most``."""
    span_days = (end - start).total_seconds() / 86400
    if span_days > 365 * 2:
        return _year_ticks(start, end, span_days, most)
    if span_days > 62:
        return _month_ticks(start, end, span_days, most)
    return _day_ticks(start, end, span_days, most)
