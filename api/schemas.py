"""Request and response schemas of the HTTP API, and how a request body is decoded.

A body is UTF-8 JSON without a byte order mark (RFC 8259 §8.1), and no object in it
repeats a key: Python's decoder would keep the last of two values silently, and an
audit record must hold what the client meant, not a guess. It is sent as
``application/json`` (or ``application/*+json``, charset UTF-8 if named), else 415.
``StrictRoute``, the route class of every ``/v1`` router, enforces both, and refuses
query parameters a route does not declare.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, Literal

import jiter
import orjson
from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from api.errors import UnsupportedMediaTypeError
from api.params import declared_query, undeclared_query
from ledger.facade import AnyEvent, InvalidEventError, Principal, Problem, m

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
    """The body's JSON, or ``InvalidEventError`` (422) naming ``body`` or the repeated key.

    ``jiter`` (pydantic's JSON parser, in Rust) decodes and refuses repeated keys in one
    pass, about five times faster than ``json`` with a hook per object; whatever it
    refuses is decoded again by ``json``, whose verdict and message stand (it accepts a
    lone surrogate escape that jiter refuses). What jiter accepts, ``json`` accepts with
    the same values (``tests/api/test_bad_input.py`` holds the two to that)."""
    if not body.startswith(BOMS):
        try:
            return jiter.from_json(body, catch_duplicate_keys=True)
        except ValueError:
            pass
    return _decode_json_slowly(body)


def _decode_json_slowly(body: bytes) -> Any:
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


def media_type_problem(content_type: str | None) -> str | None:
    """Why a body sent with this ``Content-Type`` is refused (415), or None: JSON is
    ``application/json`` or ``application/*+json``, with no charset or ``utf-8``."""
    if content_type is None or not content_type.strip():
        return "missing; send application/json"
    media, _, parameters = content_type.partition(";")
    media = media.strip().lower()
    kind, _, subtype = media.partition("/")
    if kind != "application" or not (subtype == "json" or subtype.endswith("+json")):
        return f"{media or 'empty'} is not JSON; send application/json"
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset != "utf-8":
            return f"charset {charset or 'empty'} is not UTF-8; send application/json"
    return None


_REFUSAL = "ledger.body_refusal"
"""Scope key: why the body was refused, raised once the caller is authorised."""
BODY_METHODS = ("POST", "PUT", "PATCH")


class StrictJSONRequest(Request):
    """A request whose ``json()`` is ``decode_json`` of its body."""

    _decoded: Any = None

    async def decode(self) -> None:
        """Check the media type, read and decode the body now, outside FastAPI's own
        decoding; a refusal (415, or 422 naming the field) is kept for ``StrictRoute``'s
        check to raise after authorisation."""
        problem = media_type_problem(self.headers.get("content-type"))
        if problem is not None:
            self.scope[_REFUSAL] = UnsupportedMediaTypeError(
                f"Content-Type: {problem}", [Problem("Content-Type", problem)]
            )
            return
        try:
            body = await self.body()
        except Exception:  # a client gone mid-body
            raise HTTPException(400, "There was an error parsing the body") from None
        if body:
            try:
                self._decoded = decode_json(body)
            except InvalidEventError as refusal:
                self.scope[_REFUSAL] = refusal

    async def json(self) -> Any:
        return self._decoded


def _authorisation(endpoint: Callable[..., Any]) -> Any:
    """The annotation of the endpoint's ``Principal`` parameter (``Reader``, ``Writer``…:
    the key's authentication and role check), or None for a route anyone may call."""
    try:
        parameters = inspect.signature(endpoint, eval_str=True).parameters.values()
    except NameError:
        return None
    for parameter in parameters:
        annotation = parameter.annotation
        if typing.get_origin(annotation) is Annotated and annotation.__origin__ is Principal:
            return annotation
    return None


class StrictRoute(APIRoute):
    """A route of ``/v1``. A dependency added ahead of the endpoint's parameters checks
    the request's shape; it depends on the endpoint's ``Principal`` parameter (the same
    dependency, solved once), so authorisation comes first and a key that may not do
    this is told 401/403 whatever it sent. Then, before anything else the route does:

    - a query parameter the route does not declare, or a single-valued one repeated:
      422 ``invalid-request`` (``api.params.undeclared_query``);
    - a route that takes a body refuses one not sent as JSON with 415 naming
      ``Content-Type``, and decodes one that is with ``decode_json`` before FastAPI
      sees it, so malformed JSON is one problem naming the field (422).

    Then FastAPI validates the parameters and the body as the route declares them.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        check = self._check(_authorisation(endpoint))
        kwargs["dependencies"] = [*(kwargs.get("dependencies") or []), Depends(check)]
        super().__init__(path, endpoint, **kwargs)

    def _check(self, authorisation: Any) -> Callable[..., Awaitable[None]]:
        declared: dict[str, bool] | None = None

        async def check(request: Request, principal: Any = None) -> None:
            nonlocal declared
            if declared is None:
                declared = declared_query(self.dependant)
            undeclared_query(request, declared)
            refusal = request.scope.pop(_REFUSAL, None)
            if refusal is not None:
                raise refusal

        parameters = [inspect.Parameter("request", _POSITIONAL, annotation=Request)]
        if authorisation is not None:
            parameters.append(inspect.Parameter("principal", _POSITIONAL, annotation=authorisation))
        check.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        return check

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_body = self.body_field is not None

        async def strict(request: Request) -> Response:
            if takes_body and request.method in BODY_METHODS:
                request = StrictJSONRequest(request.scope, request.receive)
                await request.decode()
            return await handler(request)

        return strict


_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD


class AppendResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": "m1a1-0042-captured-2014-06-10",
                    "position": 17,
                    "recorded_at": "2014-06-12T09:30:00.000000Z",
                    "hash": "5f1d0c2b9e4a7d3c8b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa",
                }
            ]
        }
    )

    event_id: str
    position: int = Field(description="Gap-free position in the global log.")
    recorded_at: str
    hash: str = Field(description="SHA-256 (hex) of the stored canonical JSON.")


class BatchRequest(BaseModel):
    events: list[AnyEvent] = Field(min_length=1)  # type: ignore[valid-type]


class BatchResponse(BaseModel):
    results: list[AppendResponse]


class Liveness(BaseModel):
    status: Literal["ok"]


class FieldProblem(BaseModel):
    field: str = Field(description="The offending field, e.g. `events[3].payload.to_party`.")
    message: str


class ProblemDoc(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:custody-ledger:problem:invalid-event",
                    "title": "Invalid event",
                    "status": 422,
                    "detail": "payload.to_party: unknown party 'pmf-brigade-99'",
                    "errors": [
                        {"field": "payload.to_party", "message": "unknown party 'pmf-brigade-99'"}
                    ],
                }
            ]
        }
    )

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = Field(
        description="Each field problem: {field, message}.", default_factory=list
    )
    errors_total: int = Field(
        default=0,
        description="How many field problems there were: `errors` holds the first 100 only.",
    )
    lag: int | None = Field(
        default=None,
        description="Only when projections have not reached `min_position` in time (503): "
        "how many events they are behind.",
    )


PROBLEMS = {
    401: "Missing or unknown API key",
    403: "The key's role or party does not allow this",
    404: "No such event, asset, party, contract, finding or checkpoint",
    409: "Duplicate registration, reused event_id with another body, or version mismatch",
    413: "Body too large",
    415: "The body is not JSON (`Content-Type: application/json`)",
    422: "Malformed input, or a reference to something unknown; `errors` names each field",
    500: "The ledger cannot vouch for its log: stored events contradict what it signed, or "
    "its signing key is unusable; no proof, receipt or bundle is given",
    503: "Projections have not reached min_position in time, or the database is unavailable",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Problem documents (``application/problem+json``) answered with these statuses."""
    return {
        code: {
            "model": ProblemDoc,
            "description": PROBLEMS[code],
            "content": {"application/problem+json": {}},
        }
        for code in codes
    }


APPEND_PROBLEMS = problem_responses(401, 403, 409, 413, 415, 422, 500, 503)
"""What an append can answer besides success."""
PROBLEM_RESPONSES = APPEND_PROBLEMS
READ_PROBLEMS = problem_responses(401, 403, 422, 503)
"""What every authenticated read can answer besides success: a bad query is 422."""
NOT_FOUND = problem_responses(404)
"""What a read of one thing named in its path (or query) adds."""
BAD_QUERY = problem_responses(422)
"""What a route without authentication can answer besides success."""


class FastJSON(Response):
    """A JSON response serialised by orjson, skipping FastAPI's generic encoder: large
    views (timelines, reports) would spend most of their time there."""

    media_type = "application/json"

    def __init__(self, content: Any, position: int | None = None, status_code: int = 200) -> None:
        headers = {"X-Ledger-Position": str(position)} if position is not None else None
        body = content.json_bytes() if isinstance(content, m.ReadModel) else orjson.dumps(content)
        super().__init__(body, status_code=status_code, headers=headers)
