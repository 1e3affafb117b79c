"""Signing in and out of the pages: ``/ui/sign-in`` and ``/ui/sign-out``.

Signing in checks an API key exactly as the JSON API does and keeps it in an HTTP-only
cookie (``api.ui.auth``); only a key that may read is accepted. Both forms refuse a
post from another site, so no other site can sign a reader in or out.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from api.deps import ServiceDep, principal_for
from api.ui.auth import UiReader, forget_key, is_cross_site, remember_key, safe_next
from api.ui.pages import error_page, page, page_router

router = page_router()

SIGN_IN_REASONS = {
    "expired": "Your key is no longer accepted (revoked, or signed out elsewhere). Sign in again.",
    "signed-out": "You are signed out.",
}


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


async def _refusal(request: Request, service: ServiceDep, key: str) -> tuple[str, int] | None:
    """Why this key may not sign in here, and the status to say it with; ``None`` if it may."""
    if is_cross_site(request):
        return "Sign in from this site's own page.", 403
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
    return None


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
    refused = await _refusal(request, service, key)
    if refused is not None:
        error, status = refused
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
