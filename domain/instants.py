"""Instants as the ledger stores them: UTC, fixed width, microsecond precision.

A fixed-width form (``2014-06-10T08:00:00.000000Z``) sorts correctly as text, which
the stores and the canonical JSON both rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

STORED_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
KEY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@lru_cache(maxsize=1 << 16)
def to_stored(t: datetime) -> str:
    if t.tzinfo is None:
        raise ValueError("instant without a UTC offset")
    # isoformat is several times faster than strftime and zero-pads the year.
    return t.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse(text: str) -> datetime:
    """Parse an RFC 3339 instant; an offset is required."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError("instant without a UTC offset")
    return t.astimezone(UTC)


@lru_cache(maxsize=1 << 16)
def to_key(t: datetime) -> str:
    # The same text as ``strftime(KEY_FORMAT)`` for years 1000-9999, several times faster.
    return t.astimezone(UTC).isoformat(timespec="seconds")[:-6] + "Z"


def days(n: float) -> timedelta:
    return timedelta(hours=24 * n)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
