"""Query parameters every read shares: ``as_of``, ``known_at`` and ``min_position``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from api.deps import LedgerDep
from ledger.bootstrap import Ledger
from ledger.reading.custody import parse_instant_param


@dataclass(frozen=True)
class ViewParams:
    as_of: datetime | None
    known_at: datetime | None
    position: int


def _params(projections: tuple[str, ...]) -> Callable[..., Awaitable[ViewParams]]:
    async def params(
        ledger: LedgerDep,
        response: Response,
        as_of: Annotated[
            str | None, Query(description="Valid time (RFC 3339 with offset); default now")
        ] = None,
        known_at: Annotated[
            str | None,
            Query(description="Knowledge time: what the ledger knew then; default now"),
        ] = None,
        min_position: Annotated[
            int | None,
            Query(ge=0, description="Wait until projections have applied this position, else 503"),
        ] = None,
    ) -> ViewParams:
        return await _view(ledger, response, as_of, known_at, min_position, projections)

    return params


async def _view(
    ledger: Ledger,
    response: Response,
    as_of: str | None,
    known_at: str | None,
    min_position: int | None,
    projections: tuple[str, ...],
) -> ViewParams:
    t = parse_instant_param("as_of", as_of)
    k = parse_instant_param("known_at", known_at)

    def wait() -> int:
        head = ledger.lookups.head()[0] if min_position is not None else 0
        return ledger.reads.wait_for(
            min_position, ledger.settings.read_your_writes_timeout_seconds, head, projections
        )

    position = await run_in_threadpool(wait)
    response.headers["X-Ledger-Position"] = str(position)
    return ViewParams(t, k, position)


# Reads of custody (assets, timelines, reference data) wait for that projection;
# reads of findings (and the report) for the findings projection as well.
view_params = _params(("custody",))
findings_view_params = _params(("custody", "findings"))

View = Annotated[ViewParams, Depends(view_params)]
FindingsView = Annotated[ViewParams, Depends(findings_view_params)]
