"""The contracts: the list at ``/ui/contracts``, one contract with its compliance at
``/ui/contracts/{contract_id}``, and its printable report at ``.../report``.

The report needs the ``audit`` permission, as its JSON route does (``GET
/v1/contracts/{id}/report``); the other pages ``read``. The report's sections are the
template the standalone report document shares (``api.reports``). Printed, every page
of the report carries the contract, the report's times and its page number in the
page's margin (``@page`` margin boxes, which chromium draws), from a small stylesheet
made for the report (``.../report/print.css``): the pages' content security policy
allows no inline style.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from api.deps import ServiceDep
from api.ui import fields
from api.ui.auth import UiReader
from api.ui.format import query
from api.ui.pages import PageViewDep, page, page_router, parties_by_id
from api.ui.paging import Paging
from api.ui.words import exact
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
            # 10,000 assets are not one page: each list a window at a time.
            "paging": Paging.of(request.url.path, request.query_params.multi_items()),
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
            # Each long list of the report a window at a time (``api.ui.paging``).
            "paging": Paging.of(request.url.path, request.query_params.multi_items()),
            "contract_id": contract_id,
            "filters": {"from": from_text, "to": to_text, **pv.params()},
            "finding_query": query({"known_at": report["known_at"]}),
            "time_params": pv.params(),
        },
        position=view.position,
    )


def _css_string(text: str) -> str:
    """``text`` as a CSS string literal: quotes, backslashes and line breaks escaped,
    other control characters dropped."""
    out = []
    for c in text:
        if c in ('"', "\\"):
            out.append("\\" + c)
        elif c in "\n\r\f":
            out.append("\\a ")
        elif ord(c) >= 0x20 and ord(c) != 0x7F:
            out.append(c)
    return '"' + "".join(out) + '"'


@router.get("/contracts/{contract_id}/report/print.css")
def report_print_css(
    _: UiReader,
    contract_id: str,
    as_of: str | None = None,
    known_at: str | None = None,
) -> Response:
    """The running footer of the printed report: which report, on every page."""
    t = fields.instant("as_of", as_of)[1]
    k = fields.instant("known_at", known_at)[1]
    said = f"Contract report {contract_id}"
    if t is not None:
        said += f" · as of {exact(t.isoformat())}"
    if k is not None:
        said += f" · as known at {exact(k.isoformat())}"
    css = (
        "@page {\n"
        f"  @bottom-left {{ content: {_css_string(said)}; }}\n"
        '  @bottom-right { content: "Page " counter(page) " of " counter(pages); }\n'
        "}\n"
    )
    return Response(css, media_type="text/css")
