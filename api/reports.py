"""The printable contract report: the same data as the JSON, rendered once as HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def render_report(report: dict[str, Any]) -> str:
    return _env.get_template("contract_report.html").render(r=report)
