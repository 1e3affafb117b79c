"""Who is looking at the pages: the session that signing in starts (``api.ui.session``:
a signed, expiring cookie that names the key and never holds it), or an API key in the
``Authorization`` header (so a script holding a key can fetch a page too — SPEC.md §2
says "cookie or key"). A header key is checked exactly as the JSON API checks it,
through ``KeyStore`` and its short cache; a session, by its key still being active.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.deps import ServiceDep, principal_for
from api.ui import session
from ledger.facade import ForbiddenError, Principal, Problem


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
    key = _bearer(request)
    principal: Principal | None
    if key:
        principal = await principal_for(service, key)
    else:
        value = request.cookies.get(session.COOKIE)
        if not value:
            raise SignInRequired()
        current = session.decode(service, value)
        principal = await session.session_principal(service, current) if current else None
        if principal is not None and current is not None:
            # The forms of the page carry the session's token (``pages.page``).
            request.state.ui_csrf = current.csrf
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
