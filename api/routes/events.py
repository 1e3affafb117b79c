"""``/v1/events``: append one or many events, read the log, read one event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Header, Query, Request, Response
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from api.deps import Auditor, Reader, ServiceDep, Writer
from api.errors import InvalidRequestError
from api.params import MAX_POSITION
from api.schemas import (
    NOT_FOUND,
    PROBLEM_RESPONSES,
    READ_PROBLEMS,
    AppendResponse,
    BatchRequest,
    BatchResponse,
    FastJSON,
    StrictRoute,
)
from ledger.facade import AnyEvent, AppendResult, EventBase, InvalidEventError, Problem, m

router = APIRouter(prefix="/v1/events", tags=["events"], route_class=StrictRoute)


def _position(text: str) -> int | None:
    """A header's non-negative 64-bit integer, or None (``isdigit`` alone admits "²")."""
    if text.isascii() and text.isdigit() and int(text) <= MAX_POSITION:
        return int(text)
    return None


def _out(r: AppendResult) -> AppendResponse:
    return AppendResponse(
        event_id=r.event_id, position=r.position, recorded_at=r.recorded_at, hash=r.hash
    )


def _if_match(event: EventBase, if_match: str | None) -> EventBase:
    if if_match is None:
        return event
    version = _position(if_match.strip().removeprefix("W/").strip('"'))
    if version is None:
        raise InvalidRequestError(
            "If-Match must be an asset version", [Problem("If-Match", "not a version number")]
        )
    if event.expected_version is not None:
        raise InvalidRequestError(
            "give expected_version or If-Match, not both", [Problem("If-Match", "duplicate")]
        )
    return event.model_copy(update={"expected_version": version})


@router.post(
    "",
    status_code=201,
    response_model=AppendResponse,
    responses={
        200: {"description": "A retry of an event already stored", "model": AppendResponse},
        **PROBLEM_RESPONSES,
    },
    summary="Append one event",
)
async def append_event(
    service: ServiceDep,
    principal: Writer,
    response: Response,
    event: Annotated[AnyEvent, Body()],  # type: ignore[valid-type]
    if_match: Annotated[str | None, Header(description="Expected asset version")] = None,
) -> AppendResponse:
    """Append one event of DOMAIN.md §3. The same ``event_id`` with the same body returns
    the first result (200); with a different body, 409."""
    # Async on purpose: the route only validates and hands the event to the commit
    # thread (the one place that calls the synchronous event store), then awaits it —
    # no worker thread is held per request while the group commits.
    future = service.submit([_if_match(event, if_match)], principal, single=True)
    result = (await asyncio.wrap_future(future))[0]
    if result.replayed:
        response.status_code = 200
    return _out(result)


@router.post(
    ":batch",
    status_code=201,
    response_model=BatchResponse,
    responses={
        200: {"description": "Every event was already stored", "model": BatchResponse},
        **PROBLEM_RESPONSES,
    },
    summary="Append up to 1000 events atomically",
)
async def append_batch(
    service: ServiceDep, principal: Writer, response: Response, batch: BatchRequest
) -> BatchResponse:
    """All or none: one bad event rejects the batch, and ``errors`` names it as
    ``events[i].field``."""
    limit = service.settings.max_batch_events
    if len(batch.events) > limit:
        raise InvalidEventError(
            f"a batch holds at most {limit} events", [Problem("events", f"at most {limit}")]
        )
    results = await asyncio.wrap_future(service.submit(batch.events, principal))
    if all(r.replayed for r in results):
        response.status_code = 200
    return BatchResponse(results=[_out(r) for r in results])


@router.get("", response_model=m.LogPage, responses=READ_PROBLEMS, summary="Read the log")
def read_log(
    service: ServiceDep,
    _: Auditor,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION, description="Position to read after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The global log in ``position`` order, with the integrity fields."""
    page = service.log_page(after, limit)
    return FastJSON(page, page.head)


@router.get(
    "/stream",
    summary="The log, live, as server-sent events",
    responses={
        200: {
            "description": "Server-sent events: `id` the position, `data` a stored event",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **READ_PROBLEMS,
    },
)
async def stream(
    request: Request,
    service: ServiceDep,
    _: Auditor,
    after: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """Each event is an SSE message whose ``id`` is its position; reconnecting with
    ``Last-Event-ID`` resumes after it. Heartbeats every 15 s keep proxies open. Memory
    per client is one page of at most 200 events."""
    start = after or 0
    resume = _position(last_event_id) if last_event_id is not None else None
    if resume is not None:
        start = max(start, resume)

    async def messages() -> AsyncIterator[dict[str, Any]]:
        position = start
        while not await request.is_disconnected():
            page = await run_in_threadpool(service.log_after, position, 200)
            for position, event in page:
                yield {
                    "id": str(position),
                    "event": "ledger_event",
                    "data": orjson.dumps(event).decode(),
                }
            if len(page) < 200:
                await asyncio.sleep(0.25)

    return EventSourceResponse(messages(), ping=15)


@router.get(
    "/{event_id}",
    response_model=m.EventWithAmendments,
    responses={**READ_PROBLEMS, **NOT_FOUND},
    summary="One event with its amendments",
)
def get_event(service: ServiceDep, _: Reader, event_id: str) -> Response:
    """The stored event, and the retractions and corrections that point at it."""
    return FastJSON(service.event(event_id))
