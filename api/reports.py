"""The printable contract report: the same data as the JSON, rendered once as HTML.

The sections are the template ``_report.html``, shared with the report page of the web
pages (``/ui/contracts/{id}/report``); this standalone document wraps them with its own
inline style so that a saved copy reads and prints without the server. Both render
with the pages' Jinja environment (its filters, autoescaping on).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from api.ui.format import environment
from api.ui.paging import Paging
from ledger.facade import MAX_ROWS

_env = environment()

PRINTED_ROWS = 100
"""Rows of each long list on a printed page unless the request says (``limit``): a
page of a 10,000-asset contract stays under 800 KB."""


def render_report(
    report: dict[str, Any], path: str | None = None, params: Sequence[tuple[str, str]] = ()
) -> str:
    """The report as HTML; one page of it when its long lists were cut
    (``report["page"]``), with a link to the next page (``path`` and ``params``, the
    request's, make it)."""
    page = report.get("page") or {}
    next_href = None
    if path is not None and page.get("next_cursor"):
        kept = [(k, v) for k, v in params if k != "cursor"]
        next_href = f"{path}?{urlencode([*kept, ('cursor', page['next_cursor'])])}"
    return _env.get_template("contract_report.html").render(
        # Each list is cut to the page already; the assets' section joins two of them.
        r=report,
        links=False,
        paging=Paging(size=2 * MAX_ROWS),
        next_href=next_href,
    )
