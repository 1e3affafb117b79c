"""The contracts: the list at ``/ui/contracts``, one contract with its compliance at
``/ui/contracts/{contract_id}``, and its printable report at ``.../report``.

The report needs the ``audit`` permission, as its JSON route does (``GET
/v1/contracts/{id}/report``); the other pages ``read``. The report's sections are the
template the standalone report document shares (``api.reports``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from api.deps import ServiceDep
from api.ui import fields
from api.ui.auth import UiReader
from api.ui.format import query
from api.ui.pages import PageViewDep, page, page_router, parties_by_id
from ledger.facade import ForbiddenError, Problem

router = page_router()


@router.get("/contracts")
def contracts_list(
    request: Request, service: ServiceDep, principal: UiReader, pv: PageViewDep
) -> Response:
    view = pv.view
    contracts = [
        service.contract(
            contract_id, as_of=view.as_of, known_at=view.known_at, with_compliance=False
        ).plain()
        for contract_id in service.contract_ids(known_at=view.known_at)
    ]
    return page(
        request,
        "contracts.html",
        {
            "principal": principal,
            "nav": "contracts",
            "contracts": contracts,
            "may_audit": principal.may("audit"),
            "time_params": pv.params(),
        },
        position=view.position,
    )


@router.get("/contracts/{contract_id}")
def contract_page(
    request: Request, service: ServiceDep, principal: UiReader, pv: PageViewDep, contract_id: str
) -> Response:
    view = pv.view
    # As ``GET /v1/contracts/{id}``.
    contract = service.contract(contract_id, as_of=view.as_of, known_at=view.known_at).plain()
    return page(
        request,
        "contract.html",
        {
            "principal": principal,
            "nav": "contracts",
            "c": contract,
            "parties": parties_by_id(service, view),
            "may_audit": principal.may("audit"),
            "time_params": pv.params(),
        },
        position=view.position,
    )


@router.get("/contracts/{contract_id}/report")
def report_page(
    request: Request,
    service: ServiceDep,
    principal: UiReader,
    pv: PageViewDep,
    contract_id: str,
    period_from: Annotated[str | None, Query(alias="from")] = None,
    period_to: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    if not principal.may("audit"):
        raise ForbiddenError(
            f"the contract report is for auditors: this {principal.role} key may not see "
            "it. Sign in with an auditor or admin key.",
            [Problem("key", f"role {principal.role} lacks audit")],
        )
    view = pv.view
    from_text, start = fields.instant("from", period_from)
    to_text, stop = fields.instant("to", period_to)
    # As ``GET /v1/contracts/{id}/report``: 404 for an unknown contract, then the report.
    report = service.report(
        contract_id,
        as_of=view.as_of,
        known_at=view.known_at,
        period_from=start,
        period_to=stop,
    ).plain()
    return page(
        request,
        "report.html",
        {
            "principal": principal,
            "nav": "contracts",
            "r": report,
            "links": True,
            "contract_id": contract_id,
            "filters": {"from": from_text, "to": to_text, **pv.params()},
            "finding_query": query({"known_at": report["known_at"]}),
            "time_params": pv.params(),
        },
        position=view.position,
    )
