"""The FastAPI app factory. Nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from api import errors, params, ui
from api.routes import assets, audit, events, findings, health, reference
from ledger.facade import Ledger, LedgerService, Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DESCRIPTION = """
An event-sourced audit ledger for the custody of serialised assets.

Authenticate with `Authorization: Bearer <api key>` (keys come from `ledger keys create`).
Errors are RFC 9457 problem documents whose `errors` name each offending field.
A request body is UTF-8 JSON without a byte order mark, and no object in it repeats a
key; no path or query parameter may contain U+0000. An unavailable database answers 503
with `Retry-After`.
"""


class BodyLimit:
    """413 before parsing: 256 KiB for one event, more for a batch (SPEC.md §2)."""

    def __init__(self, app: ASGIApp, single: int, batch: int) -> None:
        self.app = app
        self.single = single
        self.batch = batch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.batch if scope["path"].endswith(":batch") else self.single
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._reject(send, limit)
                return
        seen = 0
        too_large = False

        async def limited() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        if too_large:
            await self._reject(send, limit)
            return
        await self.app(scope, limited, send)

    async def _reject(self, send: Send, limit: int) -> None:
        body = errors.problem(
            413,
            "too-large",
            "Body too large",
            f"body: the request body exceeds {limit} bytes",
            [{"field": "body", "message": f"at most {limit} bytes"}],
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/problem+json")],
            }
        )
        await send({"type": "http.response.body", "body": body.body})


def create_app(settings: Settings | None = None, ledger: Ledger | None = None) -> FastAPI:
    settings = settings or (ledger.settings if ledger else Settings())
    owned = ledger is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if owned:
            app.state.service = LedgerService.build(settings)
            if settings.projections_in_process:
                app.state.service.start_projections()
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
    app.include_router(health.router)
    app.include_router(events.router)
    app.include_router(assets.router)
    app.include_router(reference.router)
    ui.install(app)
    app.include_router(findings.router)
    app.include_router(audit.router)
    app.add_middleware(
        BodyLimit,  # type: ignore[arg-type]
        single=settings.max_body_bytes,
        batch=settings.max_batch_body_bytes,
    )
    return app
