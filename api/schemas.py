"""Response schemas of the HTTP API."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel, Field

from ledger.facade import AnyEvent


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


class StoredEventOut(BaseModel):
    """A stored event: its record, ``position`` and ``hash``."""

    model_config = {"extra": "allow"}
    position: int
    hash: str
    event_id: str
    type: str


class LogPage(BaseModel):
    events: list[dict[str, Any]]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null at the head."
    )
    head: int


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemDoc, "description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        401: "Missing or unknown API key",
        403: "The key's role or party does not allow this",
        409: "Duplicate registration, reused event_id with another body, or version mismatch",
        413: "Body too large",
        422: "Malformed event; `errors` names each field",
    }.items()
}


class FastJSON(Response):
    """A JSON response serialised by orjson, skipping FastAPI's generic encoder: large
    views (timelines, reports) would spend most of their time there."""

    media_type = "application/json"

    def __init__(self, content: Any, position: int | None = None, status_code: int = 200) -> None:
        headers = {"X-Ledger-Position": str(position)} if position is not None else None
        super().__init__(orjson.dumps(content), status_code=status_code, headers=headers)
