"""The FastAPI app factory. Nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from api import errors, openapi, params, ui
from api.routes import (
    assets,
    audit,
    epcis,
    events,
    evidence,
    findings,
    health,
    parts,
    reference,
)
from ledger.facade import Ledger, LedgerService, Settings, settle_for_a_long_run

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DESCRIPTION = """
An event-sourced audit ledger for the custody of serialised assets.

Authenticate with `Authorization: Bearer <api key>` (keys come from `ledger keys create`).
Errors are RFC 9457 problem documents whose `errors` name each offending field (at most
100; `errors_total` counts them all). The role is checked before anything else: a key
that may not write gets 403 whatever its body.
A request body is `application/json` (else 415), UTF-8 without a byte order mark, and no
object in it repeats a key; a body over the limit is refused with 413 before it is read.
An unknown or repeated query parameter is a 422, and no path or query parameter may
contain U+0000. A method a path does not take is a 405 naming the others in `Allow`;
HEAD works wherever GET does. An unavailable database answers 503 with `Retry-After`.
These pages and their assets are served by the ledger itself (no internet needed).
"""


class BodyLimit:
    """413 for a body over the limit: 256 KiB for one event, more for a batch (SPEC.md §2).

    A ``Content-Length`` over the limit is refused from the header alone: no byte of the
    body is read (a client that sent ``Expect: 100-continue`` is never told to go on).
    Otherwise the body is read here, a chunk at a time, and refused as soon as it
    crosses the limit — a chunked body has no length to trust, and a declared one is not
    taken on faith — before the app has seen the request, so only the 413 is ever sent.
    The app then gets the body whole, as one message. A 413 closes the connection: the
    rest of the body is not worth reading.
    """

    def __init__(self, app: ASGIApp, single: int, batch: int) -> None:
        self.app = app
        self.single = single
        self.batch = batch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        # A batch, or an EPCIS document of as many events, may be larger than one event.
        many = scope["path"].endswith(":batch") or scope["path"] == "/v1/epcis/capture"
        limit = self.batch if many else self.single
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._reject(scope, receive, send, limit)
                return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left mid-body: nobody to answer
            body += message.get("body", b"")
            if len(body) > limit:
                await self._reject(scope, receive, send, limit)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = errors.problem(
            413,
            "too-large",
            "Body too large",
            f"body: the request body exceeds {limit} bytes",
            [{"field": "body", "message": f"at most {limit} bytes"}],
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app: the body read already, then the client's own messages
    (a disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class HeadAsGet:
    """HEAD answered as the GET would be, without the content (RFC 9110 §9.3.2): every
    GET route takes HEAD. The app sees a GET; what it sends after the response's start is
    dropped, and once the (empty) content is sent the app is told the client has gone, so
    a stream stops."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        done = False

        async def headless(message: Message) -> None:
            nonlocal done
            if done:
                return
            if message["type"] in ("http.response.body", "http.response.pathsend"):
                done = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:  # the start, and any extension's message
                await send(message)

        async def until_done() -> Message:
            if done:
                return {"type": "http.disconnect"}
            return await receive()

        await self.app({**scope, "method": "GET", errors.HEAD_AS_GET: True}, until_done, headless)


def create_app(settings: Settings | None = None, ledger: Ledger | None = None) -> FastAPI:
    settings = settings or (ledger.settings if ledger else Settings())
    owned = ledger is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owned:
            app.state.service = LedgerService.build(settings)
            if settings.projections_in_process:
                app.state.service.start_projections()
            settle_for_a_long_run()
        try:
            yield
        finally:
            if owned:
                app.state.service.close()

    app = FastAPI(
        title="Custody ledger",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(params.refuse_nul)],
    )
    if ledger is not None:
        app.state.service = LedgerService(ledger)
    errors.install(app)
    openapi.install(app, settings)
    app.include_router(health.router)
    app.include_router(events.router)
    app.include_router(assets.router)
    app.include_router(reference.router)
    app.include_router(parts.router)
    ui.install(app)
    app.include_router(findings.router)
    app.include_router(audit.router)
    app.include_router(evidence.router)
    app.include_router(epcis.router)
    app.add_middleware(
        BodyLimit,  # type: ignore[arg-type]
        single=settings.max_body_bytes,
        batch=settings.max_batch_body_bytes,
    )
    app.add_middleware(HeadAsGet)  # type: ignore[arg-type]
    return app
