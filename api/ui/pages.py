"""What every page of ``/ui`` shares: rendering a template with the security headers,
errors as pages, the time a page is viewed at (``PageView``), and the parties lookup.

Every page calls the same use cases as the JSON routes (``ledger.facade.LedgerService``)
with the same ``as_of``/``known_at`` parsing (``api.params``), so a page shows exactly
what the JSON shows. Errors become pages: no key → the sign-in page; 403/404/422 → a
page that says what was wrong, with the status code kept. Each page family has its own
module and router (``page_router``); ``api.ui.site`` puts them together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import errors
from api.deps import ServiceDep
from api.params import ViewParams, view_params
from api.ui import fields, session
from api.ui.auth import SignInRequired, safe_next
from api.ui.format import environment, query
from ledger.facade import InvalidEventError, LedgerError, LedgerService, Problem

log = logging.getLogger(__name__)

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
    # Every form that posts carries the session's CSRF token (``api.ui.session``).
    context.setdefault("csrf", getattr(request.state, "ui_csrf", ""))
    context.setdefault("csrf_field", session.CSRF_FIELD)
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
        session.end(response, request)
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


def _unreadable_page(request: Request, exc: RequestValidationError) -> Response:
    problems = [
        {
            "field": errors._field_of(tuple(e.get("loc", ()))),
            "message": errors._message(e),
        }
        for e in exc.errors()
    ]
    detail = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:3])
    return error_page(request, 422, detail, problems)


def _ledger_error_page(request: Request, exc: LedgerError) -> Response:
    status = _status_of(exc)
    if status == 500:
        log.exception("unmapped ledger error", exc_info=exc)
    return error_page(
        request,
        status,
        exc.detail if status != 500 else "an unexpected error occurred",
        [{"field": p.field, "message": p.message} for p in exc.problems],
    )


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
                response = _unreadable_page(request, exc)
            except LedgerError as exc:
                response = _ledger_error_page(request, exc)
            except StarletteHTTPException as exc:
                response = error_page(request, exc.status_code, str(exc.detail))
            except Exception as exc:
                log.exception("unexpected error on a page", exc_info=exc)
                response = error_page(request, 500, "an unexpected error occurred")
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return run


def page_router() -> APIRouter:
    """A router for one family of pages under ``/ui``, every route a ``PageRoute``."""
    return APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)


# -- the time a page is viewed at ---------------------------------------------------------


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
    # A date alone is the start of that day, UTC (``fields.instant_text``).
    view = await view_params(
        service,
        response,
        fields.instant_text(a) or None,
        fields.instant_text(k) or None,
        int(m) if m else None,
    )
    return PageView(view, a, k)


PageViewDep = Annotated[PageView, Depends(page_view)]


def parties_by_id(service: LedgerService, view: ViewParams) -> dict[str, dict[str, Any]]:
    """The parties as known at the page's time, by id: names and kinds for the page."""
    parties = service.parties(as_of=view.as_of, known_at=view.known_at).plain()["parties"]
    return {p["party_id"]: p for p in parties}
