"""FastAPI dependencies as ``Annotated`` aliases: the ledger's use cases, the caller,
roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ledger.facade import ForbiddenError, LedgerService, Principal, Problem, UnauthenticatedError

bearer = HTTPBearer(auto_error=False, description="An API key made with `ledger keys create`.")


async def get_service(request: Request) -> LedgerService:
    service: LedgerService = request.app.state.service
    return service


ServiceDep = Annotated[LedgerService, Depends(get_service)]


async def principal_for(service: LedgerService, key: str) -> Principal | None:
    """The key's principal. Async so that a cached key costs no thread hop; a miss asks
    the database in the thread pool, never on the event loop."""
    found, principal = service.cached_principal(key)
    if not found:
        principal = await run_in_threadpool(service.authenticate, key)
    return principal


async def get_principal(
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise UnauthenticatedError(
            "an API key is required: Authorization: Bearer <key>",
            [Problem("Authorization", "missing")],
        )
    principal = await principal_for(service, credentials.credentials)
    if principal is None:
        raise UnauthenticatedError(
            "unknown or revoked API key", [Problem("Authorization", "unknown key")]
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def requires(permission: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: PrincipalDep) -> Principal:
        if not principal.may(permission):
            raise ForbiddenError(
                f"Authorization: role {principal.role} may not {permission}",
                [Problem("Authorization", f"role {principal.role} lacks {permission}")],
            )
        return principal

    return check


Writer = Annotated[Principal, Depends(requires("append"))]
"""A key that may append at all (writer, importer, admin); which events it may append
(reference data, a historical ``reported_at``, as which party) the ledger decides."""
Reader = Annotated[Principal, Depends(requires("read"))]
Auditor = Annotated[Principal, Depends(requires("audit"))]
Admin = Annotated[Principal, Depends(requires("admin"))]
