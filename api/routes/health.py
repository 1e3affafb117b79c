"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import LedgerDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database and projection lag")
def readyz(ledger: LedgerDep) -> JSONResponse:
    body: dict[str, Any] = {"status": "ok"}
    try:
        with ledger.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        head, _ = ledger.lookups.head()
        position = ledger.reads.position()
        body["database"] = "ok"
        body["head"] = head
        body["projections"] = {"position": position, "lag": head - position}
    except Exception as e:  # readiness reports, it does not raise
        body.update(status="unavailable", database=type(e).__name__)
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)
