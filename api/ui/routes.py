"""``/ui``: server-rendered pages for people (SPEC.md §5).

Every page calls the same use cases as the JSON routes (``ledger.facade.LedgerService``) with the
same ``as_of``/``known_at`` parsing (``api.params``), so a page shows exactly what the
JSON shows. The contract report needs the ``audit`` permission, as its JSON route does;
every other page ``read``. Errors become pages: no key → the sign-in page;
403/404/422 → a page that says what was wrong, with the status code kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import errors
from api.deps import ServiceDep, principal_for
from api.params import CLEARED as CLEARED_VALUES
from api.params import ViewParams, parse_instant, view_params
from api.ui.auth import (
    MaybeReader,
    SignInRequired,
    UiReader,
    forget_key,
    is_cross_site,
    remember_key,
    safe_next,
)
from api.ui.format import environment, query, segment
from api.ui.svg import timeline_svg
from domain.rules.catalogue import RULE_NAMES
from ledger.facade import (
    FindingsQuery,
    ForbiddenError,
    InvalidEventError,
    LedgerError,
    LedgerService,
    NotFoundError,
    Problem,
)

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent.parent / "static"

STATUSES = ("IN_CUSTODY", "LOST", "DESTROYED", "DECOMMISSIONED")
KINDS = ("state", "event", "discrepancy")
CLEARED = ("false", "true", "any")
TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")

# Pages show what reporters wrote; a strict policy means a stray script in a
# narrative could not run even if escaping ever failed. No inline script or style.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

TITLES = {
    401: "Sign in needed",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    422: "That request could not be read",
    503: "Not ready yet",
}


templates = Jinja2Templates(env=environment())


def page(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    position: int | None = None,
) -> HTMLResponse:
    headers = {"X-Ledger-Position": str(position)} if position is not None else None
    return templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=headers
    )


# -- errors as pages --------------------------------------------------------------------


def _sign_in_redirect(request: Request, exc: SignInRequired) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    params = {"next": safe_next(target)}
    if exc.reason:
        params["reason"] = exc.reason
    response = RedirectResponse("/ui/sign-in" + query(params), status_code=303)
    if exc.reason:
        forget_key(response, secure=request.url.scheme == "https")
    return response


def error_page(
    request: Request,
    status: int,
    detail: str,
    problems: list[dict[str, str]] | None = None,
    principal: Any = None,
) -> HTMLResponse:
    return page(
        request,
        "error.html",
        {
            "status": status,
            "title": TITLES.get(status, "Something went wrong"),
            "detail": detail,
            "problems": problems or [],
            "principal": principal or getattr(request.state, "ui_principal", None),
        },
        status_code=status,
    )


def _status_of(exc: LedgerError) -> int:
    for cls, status, _ in errors.STATUS:
        if isinstance(exc, cls):
            return status
    return 500


class PageRoute(APIRoute):
    """Routes whose every outcome is a page: the JSON API's problem documents are for
    programs, so the pages map the same exceptions to HTML here instead."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            response: Response
            try:
                response = await handler(request)
            except SignInRequired as exc:
                response = _sign_in_redirect(request, exc)
            except RequestValidationError as exc:
                problems = [
                    {
                        "field": errors._field_of(tuple(e.get("loc", ()))),
                        "message": str(e.get("msg", "invalid")),
                    }
                    for e in exc.errors()
                ]
                detail = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:3])
                response = error_page(request, 422, detail, problems)
            except LedgerError as exc:
                status = _status_of(exc)
                if status == 500:
                    log.exception("unmapped ledger error", exc_info=exc)
                response = error_page(
                    request,
                    status,
                    exc.detail if status != 500 else "an unexpected error occurred",
                    [{"field": p.field, "message": p.message} for p in exc.problems],
                )
            except StarletteHTTPException as exc:
                response = error_page(request, exc.status_code, str(exc.detail))
            except Exception as exc:
                log.exception("unexpected error on a page", exc_info=exc)
                response = error_page(request, 500, "an unexpected error occurred")
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return run


router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True)
class PageView:
    """``as_of``/``known_at`` as the JSON routes parse them, plus the text the reader
    typed (an empty form field means "now", as an absent parameter does)."""

    view: ViewParams
    as_of: str
    known_at: str

    def params(self) -> dict[str, str]:
        return {"as_of": self.as_of, "known_at": self.known_at}


async def page_view(
    service: ServiceDep,
    response: Response,
    as_of: str | None = None,
    known_at: str | None = None,
    min_position: str | None = None,
) -> PageView:
    a = (as_of or "").strip()
    k = (known_at or "").strip()
    m = (min_position or "").strip()
    if m and not m.isdigit():
        raise InvalidEventError(
            "min_position: a whole number ≥ 0", [Problem("min_position", "integer ≥ 0")]
        )
    view = await view_params(service, response, a or None, k or None, int(m) if m else None)
    return PageView(view, a, k)


PageViewDep = Annotated[PageView, Depends(page_view)]


# -- sign in and out ----------------------------------------------------------------------


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


SIGN_IN_REASONS = {
    "expired": "Your key is no longer accepted (revoked, or signed out elsewhere). Sign in again.",
    "signed-out": "You are signed out.",
}


@router.get("/sign-in")
def sign_in_form(request: Request, next: str | None = None, reason: str | None = None) -> Response:
    return page(
        request,
        "sign_in.html",
        {
            "next": safe_next(next),
            "notice": SIGN_IN_REASONS.get(reason or ""),
            "error": None,
            "principal": None,
        },
    )


@router.post("/sign-in")
async def sign_in(request: Request, service: ServiceDep) -> Response:
    form = await _form(request)
    target = safe_next(form.get("next"))
    key = form.get("key", "").strip()
    error = None
    status = 200
    if is_cross_site(request):
        error, status = "Sign in from this site's own page.", 403
    elif not key:
        error, status = "Enter an API key.", 422
    else:
        principal = await principal_for(service, key)
        if principal is None:
            error, status = "That key is not known, or has been revoked.", 401
        elif not principal.may("read"):
            error = (
                f"A {principal.role} key may not read. Use an investigator, auditor or admin key."
            )
            status = 403
    if error is not None:
        # The key is never echoed back into the page.
        return page(
            request,
            "sign_in.html",
            {"next": target, "notice": None, "error": error, "principal": None},
            status_code=status,
        )
    response = RedirectResponse(target, status_code=303)
    remember_key(response, key, secure=request.url.scheme == "https")
    return response


@router.get("/sign-out")
def sign_out_form(request: Request, principal: UiReader) -> Response:
    return page(request, "sign_out.html", {"principal": principal})


@router.post("/sign-out")
def sign_out(request: Request) -> Response:
    if is_cross_site(request):
        return error_page(request, 403, "sign out from this site's own page")
    response = RedirectResponse("/ui/sign-in?reason=signed-out", status_code=303)
    forget_key(response, secure=request.url.scheme == "https")
    return response


# -- pages ----------------------------------------------------------------------------------


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


def _parties(service: LedgerService, view: ViewParams) -> dict[str, dict[str, Any]]:
    parties = service.parties(as_of=view.as_of, known_at=view.known_at)
    return {p["party_id"]: p for p in parties}


def _accounted(value: str | None) -> bool | None:
    text = (value or "").strip().lower()
    if not text:
        return None
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise InvalidEventError(
        "accounted: true, false or empty", [Problem("accounted", "true, false or empty")]
    )


def _limit(value: str | None) -> int:
    text = (value or "").strip()
    if not text:
        return 100
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise InvalidEventError("limit: a whole number 1–1000", [Problem("limit", "1–1000")])
    return int(text)


@router.get("/assets")
def board(
    request: Request,
    service: ServiceDep,
    principal: UiReader,
    pv: PageViewDep,
    contract: str | None = None,
    custodian: str | None = None,
    status: str | None = None,
    accounted: str | None = None,
    cursor: str | None = None,
    limit: str | None = None,
) -> Response:
    contract = (contract or "").strip() or None
    custodian = (custodian or "").strip() or None
    status = (status or "").strip() or None
    if status is not None and status not in STATUSES:
        raise InvalidEventError(
            f"status: one of {', '.join(STATUSES)}", [Problem("status", " | ".join(STATUSES))]
        )
    flag = _accounted(accounted)
    size = _limit(limit)
    view = pv.view
    listing = service.assets(
        contract=contract,
        custodian=custodian,
        status=status,
        accounted=flag,
        as_of=view.as_of,
        known_at=view.known_at,
        cursor=(cursor or "").strip() or None,
        limit=size,
    )
    parties = _parties(service, view)
    contracts = service.contract_ids(known_at=view.known_at)
    assets = listing["assets"]
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for a in assets:
        groups.setdefault(a.get("contract_id") or "", {}).setdefault(
            a.get("custodian") or "", []
        ).append(a)
    board_groups = [
        (
            contract_id,
            [
                (custodian_id, parties.get(custodian_id), rows)
                for custodian_id, rows in sorted(
                    by_custodian.items(), key=lambda kv: (kv[0] == "", kv[0])
                )
            ],
        )
        for contract_id, by_custodian in sorted(groups.items())
    ]
    filters = {
        "contract": contract or "",
        "custodian": custodian or "",
        "status": status or "",
        "accounted": "" if flag is None else str(flag).lower(),
        **pv.params(),
    }
    next_page = (
        query({**filters, "cursor": listing["cursor"], "limit": limit or ""})
        if listing["cursor"]
        else None
    )
    return page(
        request,
        "board.html",
        {
            "principal": principal,
            "nav": "board",
            "groups": board_groups,
            "assets": assets,
            "accounted_count": sum(1 for a in assets if a["accounted_for"]),
            "parties": parties,
            "contracts": contracts,
            "statuses": STATUSES,
            "filters": filters,
            "time_params": pv.params(),
            "as_of_shown": assets[0]["as_of"] if assets else None,
            "next_page": next_page,
            "filtered": any(filters[k] for k in ("contract", "custodian", "status", "accounted")),
        },
        position=view.position,
    )


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
    data = service.timeline(asset_id, as_of=view.as_of, known_at=view.known_at)
    try:
        state = service.asset(asset_id, as_of=view.as_of, known_at=view.known_at)
    except NotFoundError:
        state = None  # before delivery at that valid time: the timeline says so
    parties = _parties(service, view)
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
            "time_params": pv.params(),
            # A finding opened from this page shows as known at the same time.
            "finding_query": query({"known_at": pv.known_at}),
        },
        position=view.position,
    )


# -- findings -------------------------------------------------------------------------------


def _instant(name: str, value: str | None) -> tuple[str, datetime | None]:
    text = (value or "").strip()
    return text, parse_instant(name, text or None)


def _flag(name: str, value: str | None) -> bool:
    text = (value or "").strip().lower()
    if not text or text in FALSE:
        return False
    if text in TRUE:
        return True
    raise InvalidEventError(f"{name}: true or false", [Problem(name, "true or false")])


def _choice(name: str, value: str | None, allowed: tuple[str, ...], default: str = "") -> str:
    text = (value or "").strip() or default
    if text and text not in allowed:
        raise InvalidEventError(
            f"{name}: one of {', '.join(allowed)}", [Problem(name, " | ".join(allowed))]
        )
    return text


def _finding_view(pv: PageView, hindsight: bool) -> dict[str, str]:
    """How a finding's own page should be asked for, to show it as this page does."""
    return {"known_at": "" if hindsight else pv.known_at, "hindsight": "true" if hindsight else ""}


@router.get("/findings")
def findings_list(
    request: Request,
    service: ServiceDep,
    principal: UiReader,
    pv: PageViewDep,
    rule: str | None = None,
    kind: str | None = None,
    asset: str | None = None,
    contract: str | None = None,
    party: str | None = None,
    cleared: str | None = None,
    active_at: str | None = None,
    hindsight: str | None = None,
    detected_from: str | None = None,
    detected_to: str | None = None,
    cleared_from: str | None = None,
    cleared_to: str | None = None,
    cursor: str | None = None,
    limit: str | None = None,
) -> Response:
    view = pv.view
    texts = {
        "rule": (rule or "").strip(),
        "kind": _choice("kind", kind, KINDS),
        "asset": (asset or "").strip(),
        "contract": (contract or "").strip(),
        "party": (party or "").strip(),
        "cleared": _choice("cleared", cleared, CLEARED, "false"),
    }
    instants = {
        name: _instant(name, value)
        for name, value in (
            ("active_at", active_at),
            ("detected_from", detected_from),
            ("detected_to", detected_to),
            ("cleared_from", cleared_from),
            ("cleared_to", cleared_to),
        )
    }
    all_knowledge = _flag("hindsight", hindsight)
    size = _limit(limit)
    found = service.findings(
        FindingsQuery(
            rule=texts["rule"] or None,
            kind=texts["kind"] or None,
            asset=texts["asset"] or None,
            contract=texts["contract"] or None,
            party=texts["party"] or None,
            cleared=CLEARED_VALUES[texts["cleared"]],
            active_at=instants["active_at"][1],
            known_at=view.known_at,
            hindsight=all_knowledge,
            detected_from=instants["detected_from"][1],
            detected_to=instants["detected_to"][1],
            cleared_from=instants["cleared_from"][1],
            cleared_to=instants["cleared_to"][1],
            cursor=(cursor or "").strip() or None,
            limit=size,
        )
    )
    filters = {
        **texts,
        **{name: text for name, (text, _) in instants.items()},
        "known_at": pv.known_at,
        "hindsight": "true" if all_knowledge else "",
    }
    next_page = (
        query({**filters, "cursor": found["cursor"], "limit": limit or ""})
        if found["cursor"]
        else None
    )
    return page(
        request,
        "findings.html",
        {
            "principal": principal,
            "nav": "findings",
            "found": found,
            "findings": found["findings"],
            "filters": filters,
            "rules": RULE_NAMES,
            "kinds": KINDS,
            "contracts": service.contract_ids(known_at=view.known_at),
            "parties": _parties(service, view),
            "finding_query": query(_finding_view(pv, all_knowledge)),
            "time_query": query({"known_at": pv.known_at}),
            "more_open": any(
                filters[k] for k in ("detected_from", "detected_to", "cleared_from", "cleared_to")
            ),
            "filtered": any(
                filters[k]
                for k in ("rule", "kind", "asset", "contract", "party", "active_at", "known_at")
            )
            or filters["cleared"] != "false"
            or all_knowledge,
            "next_page": next_page,
        },
        position=view.position,
    )


@router.get("/findings/{finding_key:path}")
def finding_page(
    request: Request,
    service: ServiceDep,
    principal: UiReader,
    pv: PageViewDep,
    finding_key: str,
    hindsight: str | None = None,
) -> Response:
    view = pv.view
    all_knowledge = _flag("hindsight", hindsight)
    f = service.finding(finding_key, known_at=view.known_at, hindsight=all_knowledge)
    return page(
        request,
        "finding.html",
        {
            "principal": principal,
            "nav": "findings",
            "f": f,
            "hindsight": all_knowledge,
            "known_at": pv.known_at,
            "time_query": query({"known_at": "" if all_knowledge else pv.known_at}),
        },
        position=view.position,
    )


# -- contracts and the report ------------------------------------------------------------------


@router.get("/contracts")
def contracts_list(
    request: Request, service: ServiceDep, principal: UiReader, pv: PageViewDep
) -> Response:
    view = pv.view
    contracts = [
        service.contract(
            contract_id, as_of=view.as_of, known_at=view.known_at, with_compliance=False
        )
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
    contract = service.contract(contract_id, as_of=view.as_of, known_at=view.known_at)
    return page(
        request,
        "contract.html",
        {
            "principal": principal,
            "nav": "contracts",
            "c": contract,
            "parties": _parties(service, view),
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
    from_text, start = _instant("from", period_from)
    to_text, stop = _instant("to", period_to)
    # As ``GET /v1/contracts/{id}/report``: 404 for an unknown contract, then the report.
    report = service.report(
        contract_id,
        as_of=view.as_of,
        known_at=view.known_at,
        period_from=start,
        period_to=stop,
    )
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


@router.get("/{rest:path}")
def not_found(request: Request, rest: str, principal: MaybeReader) -> Response:
    if not rest:
        return RedirectResponse("/ui", status_code=308)
    return error_page(request, 404, f"there is no page at /ui/{rest}", principal=principal)


def install(app: FastAPI) -> None:
    """Mount the stylesheet, then the pages (whose last route catches every other
    ``/ui`` path, so the static mount must come first)."""
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.include_router(router)
