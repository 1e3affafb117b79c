"""The web pages for people (SPEC.md §5): sign-in, the asset timeline with its
findings, the custody board, the findings and each finding, contracts and the printable
contract report. Server-rendered with Jinja2, no build step; ``install`` adds them to
the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI) -> None:
    # Imported here so that ``api.ui.svg`` (pure) can be used without the web stack.
    from api.ui.routes import install as install_pages

    install_pages(app)
