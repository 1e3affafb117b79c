"""The printable contract report: the same data as the JSON, rendered once as HTML.

The sections are the template ``_report.html``, shared with the report page of the web
pages (``/ui/contracts/{id}/report``); this standalone document wraps them with its own
inline style so that a saved copy reads and prints without the server. Both render
with the pages' Jinja environment (its filters, autoescaping on).
"""

from __future__ import annotations

from typing import Any

from api.ui.format import environment

_env = environment()


def render_report(report: dict[str, Any]) -> str:
    return _env.get_template("contract_report.html").render(r=report, links=False)
