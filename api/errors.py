"""One table from the ledger's exceptions to HTTP, one problem+json shape (RFC 9457).

A problem's ``type`` is ``urn:custody-ledger:problem:<slug>``; the slug says what was
wrong, whichever layer noticed it:

- ``invalid-event`` (422): the body — an event, or a batch of them;
- ``invalid-request`` (422): anything else the client sent — a query or path parameter
  (an unknown or repeated one included) or a header;
- ``unsupported-media-type`` (415): a body that is not ``application/json``;
- ``too-large`` (413), ``not-found`` (404), ``method-not-allowed`` (405, with ``Allow``),
  ``unauthenticated`` (401), ``forbidden`` (403), ``conflict`` and ``version-conflict``
  (409), ``not-ready`` and ``unavailable`` (503), ``internal`` and ``integrity-failure``
  (500).

``errors`` holds at most ``MAX_ERRORS`` entries, the first ones; ``errors_total`` says how
many there were (a request naming ten thousand unknown assets gets a short answer).

An unavailable database is not the client's fault nor a bug: the drivers' operational
errors (connection refused or lost, pool exhausted, ``database is locked``) answer 503
with ``Retry-After``, whichever layer raised them.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

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
MAX_ERRORS = 100
"""At most this many entries in a problem's ``errors``; ``errors_total`` counts them all."""
HEAD_AS_GET = "ledger.head_as_get"
"""Scope key set by ``api.app.HeadAsGet`` on a HEAD request it passes on as a GET."""


class InvalidRequestError(InvalidEventError):
    """A query or path parameter or a header the route cannot take: 422
    ``invalid-request``. An ``InvalidEventError`` still, for code that catches those."""

    title = "Invalid request"


class UnsupportedMediaTypeError(LedgerError):
    """A body whose ``Content-Type`` is not JSON: 415."""

    title = "Unsupported media type"


STATUS: list[tuple[type[LedgerError], int, str]] = [
    (InvalidRequestError, 422, "invalid-request"),
    (InvalidEventError, 422, "invalid-event"),
    (UnsupportedMediaTypeError, 415, "unsupported-media-type"),
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
    """The problem document; ``errors`` keeps the first ``MAX_ERRORS`` entries and
    ``errors_total`` says how many there were."""
    errors = errors or []
    body: dict[str, Any] = {
        "type": f"urn:custody-ledger:problem:{slug}",
        "title": title,
        "status": status,
        "detail": _printable(detail),
        "errors": [{k: _printable(v) for k, v in e.items()} for e in errors[:MAX_ERRORS]],
        "errors_total": len(errors),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _summary(errors: list[dict[str, str]]) -> str:
    """The first three problems as one line, and how many more there are."""
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:3])
    if len(errors) > 3:
        detail += f" (and {len(errors) - 3} more)"
    return detail


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

# What pydantic puts before the message of a validator's ``ValueError`` or assertion.
_PYDANTIC_PREFIX = re.compile(r"^(Value error|Assertion failed), ")


def _message(err: dict[str, Any]) -> str:
    return _PYDANTIC_PREFIX.sub("", str(err.get("msg", "invalid")))


def allowed_methods(request: Request) -> list[str]:
    """The methods a route answers at the request's path, as the router would dispatch
    them (HEAD with GET, OPTIONS everywhere); empty if only a mounted app answers there."""
    allowed: list[str] = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        probe = {
            "type": "http",
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "method": method,
            "headers": [],
            "query_string": b"",
        }
        for route in request.app.router.routes:
            if route.matches(probe)[0] is Match.FULL:
                # A mount (the stylesheets) answers every method here and refuses most.
                if not isinstance(route, Mount):
                    allowed.append(method)
                break
    if not allowed:
        return []
    if "GET" in allowed:
        allowed.insert(1, "HEAD")
    return [*allowed, "OPTIONS"]


def _method_not_allowed(request: Request, exc: StarletteHTTPException) -> Response:
    """405 naming the methods the path takes in ``Allow``; OPTIONS gets them in a 204."""
    allowed = allowed_methods(request)
    allow = ", ".join(allowed) or (exc.headers or {}).get("Allow", "")
    if request.method == "OPTIONS" and allowed:
        return Response(status_code=204, headers={"Allow": allow})
    method = "HEAD" if request.scope.get(HEAD_AS_GET) else request.method
    message = f"{method} is not allowed on {request.url.path}" + (f"; use {allow}" if allow else "")
    return problem(
        405,
        "method-not-allowed",
        "Method not allowed",
        f"method: {message}",
        [{"field": "method", "message": message}],
        headers={"Allow": allow} if allow else None,
    )


def _title(status: int) -> str:
    """``Method Not Allowed`` → ``Method not allowed``, as the ledger's own titles read."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"
    return phrase[:1] + phrase[1:].lower()


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    def _ledger(request: Request, exc: LedgerError) -> JSONResponse:
        for cls, status, slug in STATUS:
            if isinstance(exc, cls):
                title = exc.title
                if slug == "invalid-event" and request.method in ("GET", "HEAD"):
                    # A read has no event: what it refuses came in its query or path.
                    slug, title = "invalid-request", InvalidRequestError.title
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
                    title,
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
        in_body = True
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            in_body = in_body and bool(loc) and loc[0] == "body"
            name = _field_of(loc)
            if err.get("type") in ("union_tag_invalid", "union_tag_not_found"):
                name = (name + ".type") if name != "body" else "type"
            errors.append({"field": name, "message": _message(err)})
        if in_body:
            return problem(422, "invalid-event", "Invalid event", _summary(errors), errors)
        title = InvalidRequestError.title
        return problem(422, "invalid-request", title, _summary(errors), errors)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return _method_not_allowed(request, exc)
        if exc.status_code == 404:
            return problem(
                404,
                "not-found",
                NotFoundError.title,
                f"path: nothing at {request.url.path}",
                [{"field": "path", "message": f"nothing at {request.url.path}"}],
            )
        slug = {413: "too-large"}.get(exc.status_code, "http-error")
        title = _title(exc.status_code)
        # Starlette's default detail is the status phrase: say it as the title does.
        detail = title if str(exc.detail).lower() == title.lower() else str(exc.detail)
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, slug, title, detail, headers=headers)

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
