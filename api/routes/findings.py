"""``/v1/findings`` and the contract views built on findings: compliance, the report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import Auditor, LedgerDep, Reader
from api.params import FindingsView as View
from api.reports import render_report
from api.schemas import PROBLEM_RESPONSES, FastJSON
from ledger.reading.custody import parse_instant_param

router = APIRouter(prefix="/v1", tags=["findings"], responses=PROBLEM_RESPONSES)


def _cleared(value: str) -> bool | None:
    return {"false": False, "true": True, "any": None}[value]


@router.get("/findings", summary="Findings as known at known_at")
def list_findings(
    ledger: LedgerDep,
    _: Reader,
    view: View,
    rule: str | None = None,
    kind: Annotated[str | None, Query(pattern="^(state|event|discrepancy)$")] = None,
    asset: str | None = None,
    contract: str | None = None,
    party: str | None = None,
    cleared: Annotated[str, Query(pattern="^(true|false|any)$")] = "false",
    active_at: Annotated[str | None, Query(description="Valid time (RFC 3339)")] = None,
    hindsight: Annotated[bool, Query(description="All knowledge instead of known then")] = False,
    detected_from: str | None = None,
    detected_to: str | None = None,
    cleared_from: str | None = None,
    cleared_to: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FastJSON:
    """``known_at`` (default now): findings detected by then, each with its life as then
    known. ``cleared``: ``false`` (default), ``true`` or ``any``. ``active_at`` keeps state
    findings whose interval contains that valid time and event or discrepancy findings
    at or before it. ``detected_from``/``detected_to`` and ``cleared_from``/``cleared_to``
    are knowledge-time windows ``[from, to)``."""
    return FastJSON(
        ledger.findings.search(
            rule=rule,
            kind=kind,
            asset=asset,
            contract=contract,
            party=party,
            cleared=_cleared(cleared),
            active_at=parse_instant_param("active_at", active_at),
            known_at=view.known_at,
            hindsight=hindsight,
            detected_from=parse_instant_param("detected_from", detected_from),
            detected_to=parse_instant_param("detected_to", detected_to),
            cleared_from=parse_instant_param("cleared_from", cleared_from),
            cleared_to=parse_instant_param("cleared_to", cleared_to),
            cursor=cursor,
            limit=limit,
        ),
        view.position,
    )


@router.get("/findings/{finding_key:path}", summary="One finding, its evidence and life")
def get_finding(
    ledger: LedgerDep, _: Reader, view: View, finding_key: str, hindsight: bool = False
) -> FastJSON:
    return FastJSON(ledger.findings.get(finding_key, view.known_at, hindsight), view.position)


@router.get(
    "/contracts/{contract_id}/report",
    summary="The auditor's contract report (JSON, or printable HTML with Accept: text/html)",
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
def get_report(
    request: Request,
    ledger: LedgerDep,
    _: Auditor,
    view: View,
    contract_id: str,
    period_from: Annotated[str | None, Query(alias="from")] = None,
    period_to: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    ledger.reads.contract(contract_id, view.as_of, view.known_at)  # 404 for an unknown contract
    report = ledger.findings.report(
        contract_id,
        as_of=view.as_of,
        known_at=view.known_at,
        period_from=parse_instant_param("from", period_from),
        period_to=parse_instant_param("to", period_to),
    )
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(
            render_report(report), headers={"X-Ledger-Position": str(view.position)}
        )
    return FastJSON(report, view.position)
