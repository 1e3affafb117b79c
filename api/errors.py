"""One table from the ledger's exceptions to HTTP, one problem+json shape (RFC 9457).

An unavailable database is not the client's fault nor a bug: the drivers' operational
errors (connection refused or lost, pool exhausted, ``database is locked``) answer 503
with ``Retry-After``, whichever layer raised them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.facade import (
    DATABASE_UNAVAILABLE,
    DuplicateError,
    ForbiddenError,
    IntegrityFailure,
    InvalidEventError,
    LedgerError,
    NotFoundError,
    NotReadyError,
    UnauthenticatedError,
    VersionConflict,
)

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
RETRY_AFTER_SECONDS = 5


STATUS: list[tuple[type[LedgerError], int, str]] = [
    (InvalidEventError, 422, "invalid-event"),
    (DuplicateError, 409, "conflict"),
    (VersionConflict, 409, "version-conflict"),
    (ForbiddenError, 403, "forbidden"),
    (NotFoundError, 404, "not-found"),
    (UnauthenticatedError, 401, "unauthenticated"),
    (NotReadyError, 503, "not-ready"),
    # The stored log contradicts itself or was tampered with: the server's fault, and
    # nothing is appended, signed or proven until an operator runs `ledger verify`.
    (IntegrityFailure, 500, "integrity-failure"),
]


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:custody-ledger:problem:{slug}",
        "title": title,
        "status": status,
        "detail": _printable(detail),
        "errors": [{k: _printable(v) for k, v in e.items()} for e in errors or []],
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _printable(text: str) -> str:
    """``text`` as UTF-8 can carry it: a field name or message may echo a client's lone
    surrogate, which would otherwise fail the response's own encoding (a 500)."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# How pydantic labels the members of a plain union in an error's location
# (``expected_version.constrained-int``): a type, not a field.
_UNION_MEMBER = re.compile(r"^(constrained-|function-\w+\[)?(int|str|float|bool|dict|list)\b.*$|\[")


def _field_of(loc: tuple[Any, ...]) -> str:
    """``("body", "events", 3, "asset_captured", "payload", "x")`` → ``events[3].payload.x``:
    the discriminated union's tag (right after the body or an index) is not a field, nor
    is the member label of a plain union."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for i, p in enumerate(parts):
        if isinstance(p, int):
            out += f"[{p}]"
        elif not _is_label(parts, i):
            out += ("." if out else "") + str(p)
    return out or "body"


def _is_label(parts: list[Any], i: int) -> bool:
    """Is ``parts[i]`` a union's label rather than a field?"""
    p = parts[i]
    if p in _EVENT_TAGS and (i == 0 or isinstance(parts[i - 1], int)):
        return True
    return i > 0 and _UNION_MEMBER.search(str(p)) is not None


def _event_tags() -> frozenset[str]:
    from domain.vocabulary import EventType

    return frozenset(t.value for t in EventType)


_EVENT_TAGS = _event_tags()


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    def _ledger(_: Request, exc: LedgerError) -> JSONResponse:
        for cls, status, slug in STATUS:
            if isinstance(exc, cls):
                extra: dict[str, Any] = {}
                if isinstance(exc, NotReadyError):
                    extra["lag"] = exc.lag
                headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
                if status == 503:
                    headers = {"Retry-After": "1"}
                if status == 500:
                    log.error("%s: %s", exc.title, exc.detail)
                return problem(
                    status,
                    slug,
                    exc.title,
                    exc.detail,
                    [{"field": p.field, "message": p.message} for p in exc.problems],
                    headers=headers,
                    **extra,
                )
        log.exception("unmapped ledger error", exc_info=exc)
        return problem(500, "internal", "Internal error", "unexpected ledger error")

    # Each class on its own: a handler for ``Exception`` runs outside the middleware
    # stack, where the server logs the error again as a crash.
    for cls in DATABASE_UNAVAILABLE:
        app.add_exception_handler(cls, unavailable)

    @app.exception_handler(RequestValidationError)
    def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            name = _field_of(tuple(err.get("loc", ())))
            if err.get("type") in ("union_tag_invalid", "union_tag_not_found"):
                name = (name + ".type") if name != "body" else "type"
            errors.append({"field": name, "message": err.get("msg", "invalid")})
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
        if len(errors) > 3:
            detail += f" (and {len(errors) - 3} more)"
        return problem(422, "invalid-event", "Invalid request", detail, errors)

    @app.exception_handler(StarletteHTTPException)
    def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(
            exc.status_code, "http-error"
        )
        return problem(exc.status_code, slug, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return problem(500, "internal", "Internal error", "an unexpected error occurred")


def unavailable(_: Request, exc: Exception) -> JSONResponse:
    """503 with ``Retry-After``: the database cannot be reached or is busy right now."""
    log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    return problem(
        503,
        "unavailable",
        "Database unavailable",
        "the database is unavailable or busy; retry later",
        [{"field": "database", "message": "unavailable; retry later"}],
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
