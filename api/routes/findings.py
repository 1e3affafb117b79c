"""``/v1/findings`` and the contract views built on findings: compliance, the report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import Auditor, Reader, ServiceDep
from api.params import FindingsFilter, PageCursor, ReportPeriod
from api.params import FindingsView as View
from api.reports import PRINTED_ROWS, render_report
from api.schemas import NOT_FOUND, READ_PROBLEMS, FastJSON, StrictRoute
from ledger.facade import MAX_ROWS, m

router = APIRouter(
    prefix="/v1", tags=["findings"], responses=READ_PROBLEMS, route_class=StrictRoute
)


@router.get("/findings", response_model=m.FindingsPage, summary="Findings as known at known_at")
def list_findings(service: ServiceDep, _: Reader, view: View, query: FindingsFilter) -> FastJSON:
    """``known_at`` (default now): findings detected by then, each with its life as then
    known. ``cleared``: ``false`` (default), ``true`` or ``any``. ``active_at`` keeps state
    findings whose interval contains that valid time and event or discrepancy findings
    at or before it. ``detected_from``/``detected_to`` and ``cleared_from``/``cleared_to``
    are knowledge-time windows ``[from, to)``."""
    return FastJSON(service.findings(query), view.position)


@router.get(
    "/findings/{finding_key:path}",
    response_model=m.FindingDetail,
    responses=NOT_FOUND,
    summary="One finding, its evidence and life",
)
def get_finding(
    service: ServiceDep, _: Reader, view: View, finding_key: str, hindsight: bool = False
) -> FastJSON:
    found = service.finding(finding_key, known_at=view.known_at, hindsight=hindsight)
    return FastJSON(found, view.position)


@router.get(
    "/contracts/{contract_id}/report",
    summary="The auditor's contract report (JSON, or printable HTML with Accept: text/html)",
    response_model=m.ContractReport,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}, **NOT_FOUND},
)
def get_report(
    request: Request,
    service: ServiceDep,
    _: Auditor,
    view: View,
    contract_id: str,
    period: ReportPeriod,
    cursor: PageCursor = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ROWS,
            description=f"Rows of each long list per response: {MAX_ROWS} unless given "
            f"(the printable HTML: {PRINTED_ROWS})",
        ),
    ] = None,
) -> Response:
    """Every list that grows with the contract (its assets, open state findings,
    inventory lines, corrections, restatements) holds at most ``limit`` rows; ``page``
    says which and how many there are, and ``page.next_cursor`` asks for the next ones.
    The printable HTML pages the same way, with a link to the next page."""
    html = "text/html" in request.headers.get("accept", "")
    if limit is None:
        limit = PRINTED_ROWS if html else MAX_ROWS
    report = service.report(
        contract_id,
        as_of=view.as_of,
        known_at=view.known_at,
        period_from=period.start,
        period_to=period.end,
        cursor=cursor,
        limit=limit,
    )
    if html:
        return HTMLResponse(
            render_report(report.plain(), request.url.path, request.query_params.multi_items()),
            headers={"X-Ledger-Position": str(view.position)},
        )
    return FastJSON(report, view.position)
