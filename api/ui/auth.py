"""Who is looking at the pages: an API key kept in an HTTP-only, same-site cookie.

The JSON API reads keys from the ``Authorization`` header only; the pages read the
cookie that signing in sets, or the header when one is sent (so a script holding a key
can fetch a page too — SPEC.md §2 says "cookie or key"). The key is checked exactly
as the JSON API checks it, through ``KeyStore`` and its short cache.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from api.deps import ServiceDep, principal_for
from ledger.facade import ForbiddenError, Principal, Problem

COOKIE = "ledger_ui_key"
COOKIE_PATH = "/ui"
# A working day; signing out, or revoking the key, ends it sooner.
COOKIE_MAX_AGE = 12 * 3600


class SignInRequired(Exception):
    """No usable key: the pages answer with a redirect to the sign-in page."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "sign in")
        self.reason = reason


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def ui_principal(request: Request, service: ServiceDep) -> Principal:
    # An explicit header wins over the cookie a browser sends by itself.
    key = _bearer(request) or request.cookies.get(COOKIE)
    if not key:
        raise SignInRequired()
    principal = await principal_for(service, key)
    if principal is None:
        raise SignInRequired("expired")
    if not principal.may("read"):
        raise ForbiddenError(
            f"role {principal.role} may not read; sign in with an investigator, "
            "auditor or admin key",
            [Problem("key", f"role {principal.role} lacks read")],
        )
    # Error pages show the navigation to a signed-in reader.
    request.state.ui_principal = principal
    return principal


async def optional_principal(request: Request, service: ServiceDep) -> Principal | None:
    """The reader if signed in, for pages anyone may see (sign-in, not found)."""
    try:
        return await ui_principal(request, service)
    except (SignInRequired, ForbiddenError):
        return None


MaybeReader = Annotated[Principal | None, Depends(optional_principal)]


UiReader = Annotated[Principal, Depends(ui_principal)]


def remember_key(response: Response, key: str, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        key,
        max_age=COOKIE_MAX_AGE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def forget_key(response: Response, secure: bool) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=secure)


def is_cross_site(request: Request) -> bool:
    """A form posted from another site (login CSRF): browsers say so in
    ``Sec-Fetch-Site``. Clients that send no such header are not browsers."""
    return request.headers.get("sec-fetch-site", "") == "cross-site"


def safe_next(value: str | None) -> str:
    """Only a path under ``/ui`` on this site: never an open redirect."""
    if (
        not value
        or not (value == "/ui" or value.startswith(("/ui/", "/ui?")))
        or "\\" in value
        or any(ord(c) < 0x20 for c in value)
    ):
        return "/ui"
    if value.startswith(("/ui/sign-in", "/ui/sign-out")):
        return "/ui"
    return value
