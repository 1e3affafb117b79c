"""How the pages write the ledger's words and instants: one way for each, shared by the
templates' filters (``api.ui.format``) and the timeline picture's labels
(``api.ui.svg_findings``), so a summary reads the same in a table and in a tooltip.

An instant is written ``when`` (the pages: the date, and the time of day to the minute
when it is not midnight) or ``exact`` (the report: to the second, never a fraction). A
value of the ledger's vocabulary (``field_maintenance``, ``IN_CUSTODY``) is written in
words (``term``), and so is prose the ledger wrote, such as a finding's summary
(``prose``), so a summary does not mix ``2014-07-10T06:00:00Z`` with "2014-07-10 06:00
UTC" a column away. Pure: no I/O, no markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from api.ui.svg_layout import instant, short_time
from domain import vocabulary
from domain.fold import Unaccounted
from domain.reference import RepairLimits
from domain.rules.catalogue import RULE_NAMES
from domain.rules.compliance import Support
from domain.rules.findings import ClearReason
from domain.state import BandMark

# An RFC 3339 instant inside text, as the ledger writes them in summaries.
INSTANT_IN_TEXT = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})"
)
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SNAKE = re.compile(r"\b[A-Za-z]+(?:_[A-Za-z]+)+\b")


def _vocabulary() -> frozenset[str]:
    """The ledger's own words, as it writes them in values and summaries: every enum of
    the domain, the reasons and the rule names. Only these are turned into words — an
    id that happens to hold an underscore is someone's name for a thing, and stays."""
    enums: list[type[StrEnum]] = [
        cls
        for cls in vars(vocabulary).values()
        if isinstance(cls, type) and issubclass(cls, StrEnum) and cls is not StrEnum
    ]
    enums += [Unaccounted, ClearReason, Support, BandMark]
    words = {str(member.value) for cls in enums for member in cls}
    words |= {f for f in RepairLimits.__dataclass_fields__ if f != "other"}
    words |= set(RULE_NAMES.values())
    return frozenset(w for w in words if "_" in w)


VOCABULARY = _vocabulary()


def when(value: str | None) -> str:
    return short_time(instant(value)) if value else "—"


def exact(value: str | None) -> str:
    """An instant to the second, for the report: an auditor's document does not round
    to the minute, and no reader needs the microseconds the API keeps (they are cut,
    never rounded up, so the time shown is never later than the one meant)."""
    if not value:
        return "—"
    t = instant(value).replace(microsecond=0)
    if (t.hour, t.minute, t.second) == (0, 0, 0):
        return t.strftime("%Y-%m-%d")
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def stamp(value: str | None) -> str:
    """An instant as an API parameter, to the second: what a verifier types back in."""
    if not value:
        return "—"
    return instant(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def term(value: Any) -> str:
    """One of the ledger's words (``field_maintenance``, ``IN_CUSTODY``) in plain words;
    anything else as it is."""
    text = str(value)
    return text.replace("_", " ").lower() if text in VOCABULARY else text


def prose(value: Any, exact_times: bool = False) -> str:
    """Text the ledger wrote (a summary): its instants as the page writes instants, its
    vocabulary in words."""
    if value is None:
        return "—"
    written: Callable[[str], str] = exact if exact_times else when

    def instant_text(m: re.Match[str]) -> str:
        try:
            return written(m.group(0).replace(" ", "T", 1))
        except ValueError:
            return m.group(0)

    text = INSTANT_IN_TEXT.sub(instant_text, str(value))
    return SNAKE.sub(lambda m: term(m.group(0)), text)


def date_only(typed: Any) -> bool:
    """Whether the reader typed a date alone (read as the start of that day, UTC)."""
    return bool(typed) and bool(DATE_ONLY.match(str(typed).strip()))


def open_since(start: str | None, end: str | None, written: Callable[[str | None], str]) -> str:
    """An interval in words: "A – B", "open since A", "up to B" or "no dates"."""
    if start and end:
        return f"{written(start)} – {written(end)}"
    if start:
        return f"open since {written(start)}"
    if end:
        return f"up to {written(end)}"
    return "no dates"


def span(start: str | None, end: str | None) -> str:
    return open_since(start, end, when)


def span_exact(start: str | None, end: str | None) -> str:
    return open_since(start, end, exact)


def period_words(period: Any) -> str:
    """A report's period in words: its bounds, or "no dates" for the whole history."""
    start = period.get("from") if period else None
    stop = period.get("to") if period else None
    if start and stop:
        return f"{exact(start)} – {exact(stop)} (exclusive)"
    if start:
        return f"from {exact(start)}, open-ended"
    if stop:
        return f"up to {exact(stop)} (exclusive)"
    return "no dates: the whole history"
