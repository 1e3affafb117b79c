"""Instants as the ledger stores them: UTC, fixed width, microsecond precision.

A fixed-width form (``2014-06-10T08:00:00.000000Z``) sorts correctly as text, which
the stores and the canonical JSON both rely on.

An instant a client gives must say exactly one moment the ledger can store:
``refuse_ambiguous`` turns away what a parser would otherwise guess at (a Unix time,
more than microsecond precision, which ``datetime`` and pydantic both truncate
silently), and ``in_utc_range`` what has no UTC form in years 0001–9999."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

STORED_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
KEY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class InstantError(ValueError):
    """A refusal whose message is fit to show a client as it is."""


@lru_cache(maxsize=1 << 16)
def to_stored(t: datetime) -> str:
    if t.tzinfo is None:
        raise ValueError("instant without a UTC offset")
    # isoformat is several times faster than strftime and zero-pads the year.
    return t.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse(text: str) -> datetime:
    """Parse an RFC 3339 instant; an offset is required. ``ValueError`` otherwise."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if t.tzinfo is None:
        raise InstantError("instant without a UTC offset")
    return in_utc_range(t)


INSTANT_RULES = (
    "RFC 3339 with an offset, e.g. 2014-06-10T08:00:00Z; at most microsecond precision "
    "(more digits are refused, not truncated); years 0001–9999 once converted to UTC; "
    "Unix times are refused."
)
"""What every instant a client gives must be, as the API documents it."""

# A date-time as RFC 3339 writes it, with at most six fractional digits: documented in
# the OpenAPI schema so a generated client never sends more.
INSTANT_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"
_FRACTION = re.compile(r"[.,](\d+)")
_INSTANT = re.compile(INSTANT_PATTERN, re.ASCII)
UNIX_TIME = "a Unix time is not an instant: give RFC 3339 with an offset, e.g. 2014-06-10T08:00:00Z"


def refuse_ambiguous(text: str) -> None:
    """Raise ``InstantError`` for a Unix time (``"1402387200"``), for more than six
    fractional digits, which every parser here would silently truncate, and for any
    other text the published pattern (``INSTANT_PATTERN``) does not admit: the query
    parameters' parser (``datetime.fromisoformat``) and the bodies' (pydantic) each
    accept forms the other refuses (``20140610T080000Z``, ``+00``), and neither may
    accept what the API document forbids."""
    digits = text.strip().lstrip("+-").replace(".", "", 1)
    if digits.isascii() and digits.isdigit():
        raise InstantError(UNIX_TIME)
    fraction = _FRACTION.search(text)
    if fraction is not None and len(fraction.group(1)) > 6:
        raise InstantError(
            "at most microsecond precision (6 fractional digits): the ledger stores "
            "microseconds and will not truncate silently"
        )
    if _INSTANT.fullmatch(text) is None:
        raise InstantError(
            "not an RFC 3339 date-time with seconds and an offset, e.g. 2014-06-10T08:00:00Z"
        )


def in_utc_range(t: datetime) -> datetime:
    """``t`` in UTC, or ``InstantError`` when that falls outside years 0001–9999."""
    try:
        return t.astimezone(UTC)
    except OverflowError:
        raise InstantError("outside years 0001–9999 once converted to UTC") from None


def parse_given(text: str) -> datetime:
    """Parse an instant a client gave: ``parse`` after ``refuse_ambiguous``."""
    refuse_ambiguous(text)
    return parse(text)


@lru_cache(maxsize=1 << 16)
def to_key(t: datetime) -> str:
    # The same text as ``strftime(KEY_FORMAT)`` for years 1000-9999, several times faster.
    return t.astimezone(UTC).isoformat(timespec="seconds")[:-6] + "Z"


@lru_cache(maxsize=1024)
def days(n: float) -> timedelta:
    # Cached: the rules ask for the same few contract terms at every step and segment.
    return timedelta(hours=24 * n)


@lru_cache(maxsize=1024)
def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def stored_instant(value: Any) -> datetime | None:
    """An instant of a stored record (``None`` stays ``None``): the stored form read
    directly, anything else through :func:`parse`."""
    if value is None:
        return None
    if type(value) is str and len(value) == _STORED_WIDTH and value[-1] == "Z":
        # The stored form (``2014-06-10T08:00:00.000000Z``): ``fromisoformat`` reads it
        # as UTC directly, without the general parser's rewriting and conversion.
        return datetime.fromisoformat(value)
    return parse(str(value))


_STORED_WIDTH = len("2014-06-10T08:00:00.000000Z")
