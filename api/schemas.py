"""Response schemas of the HTTP API."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel, Field

from ledger.facade import AnyEvent, m


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
