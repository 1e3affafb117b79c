"""Request and response schemas of the HTTP API, and how a request body is decoded.

A body is UTF-8 JSON without a byte order mark (RFC 8259 §8.1), and no object in it
repeats a key: Python's decoder would keep the last of two values silently, and an
audit record must hold what the client meant, not a guess (``StrictJSONRoute``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from ledger.facade import AnyEvent, InvalidEventError, Problem, m

BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
NOT_UTF8 = "the body must be JSON encoded as UTF-8, without a byte order mark (RFC 8259)"


class _DuplicateKey(ValueError):
    pass


class _Pairs(list[tuple[str, Any]]):
    """An object as decoded, keys in order and repeats kept: only to find where one is."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey
    return obj


def _duplicate_path(value: Any, path: str = "") -> str | None:
    """The field (``events[1].payload.reason``) of the first repeated key, or None."""
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, item in value:
            at = f"{path}.{key}" if path else key
            if key in seen:
                return at
            seen.add(key)
            found = _duplicate_path(item, at)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _duplicate_path(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _refuse(field: str, message: str) -> InvalidEventError:
    return InvalidEventError(f"{field}: {message}", [Problem(field, message)])


def decode_json(body: bytes) -> Any:
    """The body's JSON, or ``InvalidEventError`` (422) naming ``body`` or the repeated key."""
    if body.startswith(BOMS):
        raise _refuse("body", NOT_UTF8)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _refuse("body", f"{NOT_UTF8}; invalid byte at {e.start}") from None
    try:
        return json.loads(text, object_pairs_hook=_unique)
    except _DuplicateKey:
        field = _duplicate_path(json.loads(text, object_pairs_hook=_Pairs)) or "body"
        raise _refuse(field, "repeats a key of its object") from None
    except json.JSONDecodeError as e:
        message = f"not JSON: {e.msg} at line {e.lineno} column {e.colno}"
        raise _refuse("body", message) from None
    except ValueError as e:  # e.g. an integer of more digits than Python will convert
        raise _refuse("body", f"not JSON this server accepts: {e}") from None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # FastAPI reads a body without a content type as JSON too
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class StrictJSONRequest(Request):
    """A request whose ``json()`` is ``decode_json`` of its body."""

    _decoded: Any = None

    async def decode(self) -> None:
        """Read and decode the body now, raising the 422 outside FastAPI's own decoding."""
        try:
            body = await self.body()
        except Exception:  # a client gone mid-body, or one over the size limit
            raise HTTPException(400, "There was an error parsing the body") from None
        if body:
            self._decoded = decode_json(body)

    async def json(self) -> Any:
        return self._decoded


class StrictJSONRoute(APIRoute):
    """A route that decodes a JSON body with ``decode_json`` before FastAPI sees it, so a
    refusal is one problem naming the field rather than a generic decode error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            if request.method in ("POST", "PUT", "PATCH") and _is_json(
                request.headers.get("content-type")
            ):
                request = StrictJSONRequest(request.scope, request.receive)
                await request.decode()
            return await handler(request)

        return strict


class AppendResponse(BaseModel):
    event_id: str
    position: int = Field(description="Gap-free position in the global log.")
    recorded_at: str
    hash: str = Field(description="SHA-256 (hex) of the stored canonical JSON.")


class BatchRequest(BaseModel):
    events: list[AnyEvent] = Field(min_length=1)  # type: ignore[valid-type]


class BatchResponse(BaseModel):
    results: list[AppendResponse]


class ProblemDoc(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] = Field(
        description="Each field problem: {field, message}.", default_factory=list
    )


PROBLEMS = {
    401: "Missing or unknown API key",
    403: "The key's role or party does not allow this",
    404: "No such event, asset, party, contract or finding",
    409: "Duplicate registration, reused event_id with another body, or version mismatch",
    413: "Body too large",
    422: "Malformed input; `errors` names each field",
    503: "Projections have not reached min_position in time, or the database is unavailable",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {
            "model": ProblemDoc,
            "description": PROBLEMS[code],
            "content": {"application/problem+json": {}},
        }
        for code in codes
    }


PROBLEM_RESPONSES = problem_responses(401, 403, 409, 413, 422, 503)
"""What a write can answer besides success."""
READ_PROBLEMS = problem_responses(401, 403, 404, 422, 503)
"""What a read can answer besides success."""


class FastJSON(Response):
    """A JSON response serialised by orjson, skipping FastAPI's generic encoder: large
    views (timelines, reports) would spend most of their time there."""

    media_type = "application/json"

    def __init__(self, content: Any, position: int | None = None, status_code: int = 200) -> None:
        headers = {"X-Ledger-Position": str(position)} if position is not None else None
        body = content.json_bytes() if isinstance(content, m.ReadModel) else orjson.dumps(content)
        super().__init__(body, status_code=status_code, headers=headers)
