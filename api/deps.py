"""FastAPI dependencies as ``Annotated`` aliases: the ledger, the caller, roles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ledger.bootstrap import Ledger
from ledger.errors import ForbiddenError, Problem, UnauthenticatedError
from ledger.writing.principal import Principal

bearer = HTTPBearer(auto_error=False, description="An API key made with `ledger keys create`.")


async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]


async def get_principal(
    ledger: LedgerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    # Async so that a cached key costs no thread hop; a miss asks the database in
    # the thread pool, never on the event loop.
    if credentials is None or not credentials.credentials:
        raise UnauthenticatedError(
            "an API key is required: Authorization: Bearer <key>",
            [Problem("Authorization", "missing")],
        )
    found, principal = ledger.keys.cached(credentials.credentials)
    if not found:
        principal = await run_in_threadpool(ledger.keys.authenticate, credentials.credentials)
    if principal is None:
        raise UnauthenticatedError(
            "unknown or revoked API key", [Problem("Authorization", "unknown key")]
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def requires(permission: str) -> Callable[[Principal], Principal]:
    async def check(principal: PrincipalDep) -> Principal:
        if not principal.may(permission):
            raise ForbiddenError(
                f"role {principal.role} may not {permission}",
                [Problem("Authorization", f"role {principal.role} lacks {permission}")],
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(requires("read"))]
Auditor = Annotated[Principal, Depends(requires("audit"))]
