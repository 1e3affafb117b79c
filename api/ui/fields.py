"""How the pages read their query and form fields: leniently, as a form sends them.

A browser form sends every field, blank or not, so a blank field means "not set" here
where the JSON routes would reject it; anything else is checked and a bad value is a
422 that names the field (``InvalidEventError`` with its ``Problem``), as in the JSON.

A date alone (``2014-06-10``) names the start of that day in UTC, the instant
``2014-06-10T00:00:00Z`` — the instant the pages themselves write as a bare date, so
what a page shows can be typed back in. Every time field of every page reads it so.
"""

from __future__ import annotations

import re
from datetime import datetime

from api.params import parse_instant
from ledger.facade import InvalidEventError, Problem

TRUE = ("true", "1", "yes", "on")
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATE_RULE = "a date alone means 00:00 UTC, the start of that day"
FALSE = ("false", "0", "no", "off")


def text(value: str | None) -> str:
    """The field as typed, without surrounding blanks ("" when absent)."""
    return (value or "").strip()


def optional(value: str | None) -> str | None:
    """The field, or ``None`` when it is blank or absent."""
    return text(value) or None


def instant_text(typed: str) -> str:
    """An instant as the API reads it: a date alone becomes the start of that day, UTC."""
    return f"{typed}T00:00:00Z" if DATE_ONLY.match(typed) else typed


def instant(name: str, value: str | None) -> tuple[str, datetime | None]:
    """The text as typed (to show it back) and the instant it names, if any."""
    typed = text(value)
    return typed, parse_instant(name, instant_text(typed) or None)


def flag(name: str, value: str | None) -> bool:
    """A checkbox: blank or a false word is off."""
    typed = text(value).lower()
    if not typed or typed in FALSE:
        return False
    if typed in TRUE:
        return True
    raise InvalidEventError(f"{name}: true or false", [Problem(name, "true or false")])


def either(name: str, value: str | None) -> bool | None:
    """A true/false/unset choice: blank is unset (``None``)."""
    typed = text(value).lower()
    if not typed:
        return None
    if typed in TRUE:
        return True
    if typed in FALSE:
        return False
    raise InvalidEventError(
        f"{name}: true, false or empty", [Problem(name, "true, false or empty")]
    )


def choice(name: str, value: str | None, allowed: tuple[str, ...], default: str = "") -> str:
    """One of ``allowed``, or ``default`` when blank."""
    typed = text(value) or default
    if typed and typed not in allowed:
        raise InvalidEventError(
            f"{name}: one of {', '.join(allowed)}", [Problem(name, " | ".join(allowed))]
        )
    return typed


def limit(value: str | None) -> int:
    """How many rows a page lists: 100 unless asked, at most 1000."""
    typed = text(value)
    if not typed:
        return 100
    if not typed.isdigit() or not 1 <= int(typed) <= 1000:
        raise InvalidEventError("limit: a whole number 1–1000", [Problem("limit", "1–1000")])
    return int(typed)
