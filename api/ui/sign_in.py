"""Signing in and out of the pages: ``/ui/sign-in`` and ``/ui/sign-out``.

Signing in checks an API key exactly as the JSON API does and starts a session
(``api.ui.session``): a signed cookie that names the key, never holds it. Only a key
that may read is accepted. Both forms carry a CSRF token and refuse a post without the
right one, or from another site, so no other site can sign a reader in or out.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from api.deps import ServiceDep, principal_for
from api.ui import session
from api.ui.auth import UiReader, is_cross_site, safe_next
from api.ui.pages import error_page, page, page_router
from ledger.facade import LedgerService, Principal

router = page_router()

SIGN_IN_REASONS = {
    "expired": "Your session has ended (it expired, or its key was revoked). Sign in again.",
    "signed-out": "You are signed out.",
}
STALE_FORM = (
    "This sign-in form has expired or did not come from this site. "
    "It has been renewed: sign in again."
)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


async def _refusal(
    request: Request, service: LedgerService, form: dict[str, str], key: str
) -> tuple[str, int] | Principal:
    """Why this post may not sign in, and the status to say it with; else the key's
    principal."""
    if is_cross_site(request) or not session.sign_in_token_matches(
        request, service, form.get(session.CSRF_FIELD)
    ):
        return STALE_FORM, 403
    if not key:
        return "Enter an API key.", 422
    principal = await principal_for(service, key)
    if principal is None:
        return "That key is not known, or has been revoked.", 401
    if not principal.may("read"):
        return (
            f"A {principal.role} key may not read. Use an investigator, auditor or admin key.",
            403,
        )
    return principal


def _sign_in_page(
    request: Request,
    service: LedgerService,
    target: str,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    token, cookie = session.sign_in_token(request, service)
    response = page(
        request,
        "sign_in.html",
        {
            "next": target,
            "notice": notice,
            "error": error,
            "principal": None,
            "csrf": token,
            "session_hours": session.SESSION_MAX_AGE // 3600,
        },
        status_code=status,
    )
    session.keep_sign_in_token(response, request, cookie)
    return response


@router.get("/sign-in")
def sign_in_form(
    request: Request, service: ServiceDep, next: str | None = None, reason: str | None = None
) -> Response:
    return _sign_in_page(request, service, safe_next(next), SIGN_IN_REASONS.get(reason or ""))


@router.post("/sign-in")
async def sign_in(request: Request, service: ServiceDep) -> Response:
    form = await _form(request)
    target = safe_next(form.get("next"))
    key = form.get("key", "").strip()
    outcome = await _refusal(request, service, form, key)
    created = (
        await session.key_created(service, outcome) if isinstance(outcome, Principal) else None
    )
    if isinstance(outcome, Principal) and created is None:
        outcome = "That key is not known, or has been revoked.", 401  # revoked meanwhile
    if not isinstance(outcome, Principal):
        error, status = outcome
        # The key is never echoed back into the page.
        return _sign_in_page(request, service, target, error=error, status=status)
    response = RedirectResponse(target, status_code=303)
    session.start(response, request, service, session.new_session(outcome, created or ""))
    return response


@router.get("/sign-out")
def sign_out_form(request: Request, principal: UiReader) -> Response:
    return page(request, "sign_out.html", {"principal": principal})


@router.post("/sign-out")
async def sign_out(request: Request, service: ServiceDep) -> Response:
    if is_cross_site(request):
        return error_page(request, 403, "sign out from this site's own page")
    current = session.decode(service, request.cookies.get(session.COOKIE))
    if current is not None:
        form = await _form(request)
        if not session.same_token(form.get(session.CSRF_FIELD), current.csrf):
            request.state.ui_csrf = current.csrf
            return error_page(
                request,
                403,
                "that sign-out form did not come from this site's pages (its CSRF token "
                "is missing or wrong): you are still signed in; use the Sign out button",
            )
    response = RedirectResponse("/ui/sign-in?reason=signed-out", status_code=303)
    session.end(response, request)
    return response
