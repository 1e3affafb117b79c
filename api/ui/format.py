"""How the pages write values, and the Jinja environment that knows those filters.

Pure (no web framework): the pages (``api.ui.pages``) and the standalone contract
report of ``GET /v1/contracts/{id}/report`` (``api.reports``) render with the same
environment, so a value reads the same in both. Autoescaping is always on.

One way of writing each thing (``api.ui.words``): instants, the ledger's vocabulary,
and prose the ledger wrote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2

from api.ui.paging import Paging
from api.ui.svg import STYLES
from api.ui.words import (
    date_only,
    exact,
    period_words,
    prose,
    span,
    span_exact,
    stamp,
    term,
    when,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def lag(seconds: float | None) -> str:
    """A report's delay, in the largest units that keep it readable."""
    if seconds is None:
        return "—"
    sign = "−" if seconds < 0 else ""
    s = abs(int(seconds))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    if s < 60:
        text = f"{sec} s"
    elif s < 3600:
        text = f"{m} min"
    elif s < 86400:
        text = f"{h} h {m} min" if m else f"{h} h"
    elif d < 10:
        text = f"{d} d {h} h" if h else f"{d} d"
    elif d < 365:
        text = f"{d} d"
    else:
        y, d = divmod(d, 365)
        text = f"{y} y {d} d" if d else f"{y} y"
    return sign + text


def words(value: Any) -> str:
    return str(value).replace("_", " ") if value is not None else "—"


def show(value: Any) -> str:
    """A payload value as text: instants in the short form, lists and maps inline."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value) or "—"
    if isinstance(value, Mapping):
        return "; ".join(f"{words(k)}: {show(v)}" for k, v in value.items()) or "—"
    if isinstance(value, str) and INSTANT.match(value):
        try:
            return when(value)
        except ValueError:
            return value
    return term(value)


def segment(value: Any) -> str:
    """One path segment: every ``/`` escaped."""
    return quote(str(value), safe="")


def keypath(value: Any) -> str:
    """A finding key as the tail of a path (``/ui/findings/{key:path}``): its slashes
    stay separators, everything else is escaped."""
    return quote(str(value), safe="/:")


def query(params: Mapping[str, Any]) -> str:
    kept = {k: v for k, v in params.items() if v is not None and v is not False and v != ""}
    return ("?" + urlencode(kept)) if kept else ""


def safe_href(uri: Any) -> str | None:
    """Evidence links only for http(s): never ``javascript:`` or ``data:``."""
    text = str(uri or "")
    return text if text.lower().startswith(("https://", "http://")) else None


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when,
        exact=exact,
        lag=lag,
        words=words,
        term=term,
        prose=prose,
        stamp=stamp,
        segment=segment,
        keypath=keypath,
        show=show,
    )
    env.globals.update(
        query=query,
        safe_href=safe_href,
        STYLES=STYLES,
        date_only=date_only,
        span=span,
        span_exact=span_exact,
        period_words=period_words,
        Paging=Paging,
    )
    return env
