"""One asset's page, ``/ui/assets/{asset_id}``: its custody timeline as a picture
(``api.ui.svg``) and as tables, its state at the page's time, and its findings."""

from __future__ import annotations

from fastapi import Request, Response

from api.deps import ServiceDep
from api.ui.auth import UiReader
from api.ui.format import query
from api.ui.pages import PageViewDep, page, page_router, parties_by_id
from api.ui.paging import Paging
from api.ui.svg import timeline_svg
from ledger.facade import NotFoundError

router = page_router()

# An event row names at most this many of the event's other assets; the related assets
# section below the events lists them all, a window at a time.
CO_ASSETS_SHOWN = 12


@router.get("/assets/{asset_id}")
def timeline(
    request: Request,
    service: ServiceDep,
    principal: UiReader,
    pv: PageViewDep,
    asset_id: str,
) -> Response:
    view = pv.view
    # The JSON routes' own functions: the timeline with the findings each event
    # triggered, the state with its active findings.
    data = service.timeline(asset_id, as_of=view.as_of, known_at=view.known_at).plain()
    try:
        state = service.asset(asset_id, as_of=view.as_of, known_at=view.known_at).plain()
    except NotFoundError:
        state = None  # before delivery at that valid time: the timeline says so
    parties = parties_by_id(service, view)
    picture = timeline_svg(data, parties.values(), until_last=not pv.as_of)
    bands = [
        {**b, "style": shape.style, "label": shape.label}
        for b, shape in zip(data["bands"], picture.bands, strict=True)
    ]
    findings_by_key = {f["finding_key"]: f for f in data["findings"]}
    return page(
        request,
        "timeline.html",
        {
            "principal": principal,
            "nav": "board",
            "asset_id": asset_id,
            "t": data,
            "state": state,
            "svg": picture,
            "bands": bands,
            "parties": parties,
            "findings_by_key": findings_by_key,
            # An event may name thousands of assets: a window of them at a time.
            "paging": Paging.of(request.url.path, request.query_params.multi_items()),
            "co_assets_shown": CO_ASSETS_SHOWN,
            "time_params": pv.params(),
            # A finding opened from this page shows as known at the same time.
            "finding_query": query({"known_at": pv.known_at}),
        },
        position=view.position,
    )
