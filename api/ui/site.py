"""``/ui`` put together: the stylesheet, then each family of pages in turn, then the
page for every other ``/ui`` path.

The order matters: the static mount comes before the pages, and the catch-all
``/ui/{rest:path}`` after all of them, or it would answer for their paths.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.ui import board, contracts, findings, home, sign_in, timeline
from api.ui.auth import MaybeReader
from api.ui.pages import error_page, page_router

STATIC = Path(__file__).resolve().parent.parent / "static"

fallback = page_router()


@fallback.get("/{rest:path}")
def not_found(request: Request, rest: str, principal: MaybeReader) -> Response:
    if not rest:
        return RedirectResponse("/ui", status_code=308)
    return error_page(request, 404, f"there is no page at /ui/{rest}", principal=principal)


ROUTERS: tuple[APIRouter, ...] = (
    sign_in.router,
    home.router,
    board.router,
    timeline.router,
    findings.router,
    contracts.router,
    fallback,
)


def install(app: FastAPI) -> None:
    """Mount the stylesheet, then the pages, the catch-all last."""
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    for router in ROUTERS:
        app.include_router(router)
