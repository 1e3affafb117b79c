"""The web pages for people (SPEC.md §5): sign-in, the asset timeline with its
findings, the custody board, the findings and each finding, contracts and the printable
contract report. Server-rendered with Jinja2, no build step; ``install`` adds them to
the app.

A module per family of pages: ``sign_in``, ``home``, ``board``, ``timeline``,
``findings``, ``contracts``; what they share is in ``pages`` (rendering, errors as
pages, the page's time), ``fields`` (reading form fields), ``auth`` and ``session``
(who is reading: a signed session cookie that never holds the key, and the forms' CSRF
tokens) and ``paging`` (long lists a window at a time); ``site`` puts them together.
The timeline picture is ``svg`` (with ``svg_layout`` and ``svg_findings``), pure, like
``format``, the filters the templates use, and ``words``, how values, instants and the
ledger's prose are written."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI) -> None:
    # Imported here so that ``api.ui.svg`` (pure) can be used without the web stack.
    from api.ui.site import install as install_pages

    install_pages(app)
