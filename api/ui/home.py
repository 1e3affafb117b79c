"""The front door of the pages: ``/ui``, and its "open an asset" form."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from api.ui.auth import UiReader
from api.ui.format import segment
from api.ui.pages import page, page_router
from ledger.facade import InvalidEventError, Problem

router = page_router()


@router.get("")
def index(request: Request, principal: UiReader) -> Response:
    return page(request, "index.html", {"principal": principal, "nav": "home"})


@router.get("/open")
def open_asset(_: UiReader, asset_id: str = "") -> Response:
    """The index's "open an asset" form: a GET form cannot fill in a path."""
    asset_id = asset_id.strip()
    if not asset_id:
        raise InvalidEventError("asset_id: enter an asset id", [Problem("asset_id", "missing")])
    return RedirectResponse(f"/ui/assets/{segment(asset_id)}", status_code=303)
