"""``/v1/audit``: signed checkpoints, RFC 6962 proofs and the export bundle (SPEC.md §4).

Auditors read; only an admin may ask for a checkpoint to be made now. Everything an
auditor needs to check offline is here: the public key and key id to pin, checkpoints,
inclusion and consistency proofs, and the bundle that ``ledger verify`` checks. A log
that contradicts its own checkpoints answers a 500 problem saying so, never a proof.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api import errors
from api.deps import Admin, Auditor, ServiceDep
from api.params import MAX_POSITION
from api.schemas import NOT_FOUND, READ_PROBLEMS, FastJSON, StrictRoute, problem_responses
from ledger.facade import VERIFIER_KEY_PATTERN, IntegrityFailure, WitnessRefusal, m

# Every audit route answers 500 when the stored log contradicts its checkpoints.
router = APIRouter(
    prefix="/v1/audit",
    tags=["audit"],
    responses={**READ_PROBLEMS, **problem_responses(500)},
    route_class=StrictRoute,
)

T = TypeVar("T")

NDJSON = "application/x-ndjson"
log = logging.getLogger(__name__)


def _failure(exc: IntegrityFailure) -> JSONResponse:
    return errors.problem(500, "integrity-failure", exc.title, exc.detail)


async def _run(fn: Callable[[], T]) -> T | JSONResponse:
    try:
        return await run_in_threadpool(fn)
    except IntegrityFailure as exc:
        log.error("integrity failure: %s", exc.detail)
        return _failure(exc)


@router.get(
    "/checkpoints",
    response_model=m.Checkpoints,
    summary="Signed checkpoints and the key to check them with",
)
async def list_checkpoints(
    service: ServiceDep,
    _: Auditor,
    cursor: Annotated[
        str | None,
        # The tree size to list below: 18 digits keep it within a 64-bit column.
        Query(pattern=r"^[0-9]{1,18}$", description="The `cursor` of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """This ledger's checkpoints, newest first, with its Ed25519 public key (base64 of
    the raw 32 bytes) and key id. Each checkpoint signs the message described in
    ``ledger.integrity.checkpoints``; save one to pass to ``ledger verify --checkpoint``."""
    result = await _run(lambda: service.checkpoints(cursor, limit))
    return result if isinstance(result, JSONResponse) else FastJSON(result)


@router.post(
    "/checkpoints",
    status_code=201,
    summary="Sign a checkpoint of the log now",
    response_model=m.CheckpointMade,
    responses={
        200: {
            "description": "The latest checkpoint already covers the whole log",
            "model": m.CheckpointMade,
        },
        **problem_responses(413),
    },
)
async def make_checkpoint(service: ServiceDep, _: Admin) -> Any:
    """201 with the new checkpoint, or 200 with the latest one if it already covers
    every event."""
    result = await _run(service.make_checkpoint)
    if isinstance(result, JSONResponse):
        return result
    return FastJSON(result, status_code=201 if result.created else 200)


@router.get(
    "/proof/{event_id}",
    response_model=m.InclusionProof,
    responses=NOT_FOUND,
    summary="RFC 6962 inclusion proof of one event",
)
async def inclusion_proof(
    service: ServiceDep,
    _: Auditor,
    event_id: str,
    checkpoint: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_POSITION,
            description="Tree size of the checkpoint; default the latest, if it covers",
        ),
    ] = None,
) -> Any:
    """The audit path of the event's leaf (``SHA-256(0x00 || event hash)``, index
    ``position - 1``) in the checkpoint's tree, sibling nearest the leaf first, and the
    signed checkpoint it verifies against."""
    result = await _run(lambda: service.inclusion(event_id, checkpoint))
    return result if isinstance(result, JSONResponse) else FastJSON(result)


@router.get(
    "/consistency",
    response_model=m.ConsistencyProof,
    responses=NOT_FOUND,
    summary="RFC 6962 consistency proof between two checkpoints",
)
async def consistency_proof(
    service: ServiceDep,
    _: Auditor,
    size1: Annotated[
        int, Query(alias="from", ge=1, le=MAX_POSITION, description="Tree size of the older")
    ],
    size2: Annotated[
        int, Query(alias="to", ge=1, le=MAX_POSITION, description="Tree size of the newer")
    ],
) -> Any:
    """Proof that the checkpoint of size ``to`` extends the one of size ``from``."""
    result = await _run(lambda: service.consistency(size1, size2))
    return result if isinstance(result, JSONResponse) else FastJSON(result)


@router.get(
    "/export",
    summary="An audit bundle (NDJSON) for `ledger verify`",
    responses={
        200: {
            "description": "The bundle: one JSON document per line (SPEC.md §4)",
            "content": {NDJSON: {"schema": {"type": "string"}}},
        }
    },
)
async def export(
    service: ServiceDep,
    _: Auditor,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="Start after this position")
    ] = 0,
    until: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description="Last position; default the head")
    ] = None,
) -> Response:
    """Events ``after+1 .. until`` with the checkpoints covering them and the consistency
    proofs between those, streamed (memory stays at one page of events). If no
    checkpoint reaches ``until``, one is made first at the current head."""
    result = await _run(lambda: service.export(after, until))
    if isinstance(result, JSONResponse):
        return result
    name = f"ledger-{result.after}-{result.until}.ndjson"
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Ledger-Position": str(result.until),
    }
    if result.made is not None:
        headers["X-Ledger-Checkpoint-Made"] = str(result.made.tree_size)
    body: Iterator[bytes] = result.chunks()
    # A sync iterator: Starlette pulls it in the thread pool, a chunk at a time.
    return StreamingResponse(body, media_type=NDJSON, headers=headers)


NOTE_MEDIA = "text/plain; charset=utf-8"
TLOG_SIZE = "text/x.tlog.size"
_REFUSALS = {
    403: ("forbidden", "Cosignature does not verify"),
    404: ("not-found", "No such checkpoint"),
    422: ("invalid-request", "Malformed cosignature request"),
}


@router.get(
    "/checkpoint",
    summary="The latest checkpoint as a C2SP signed note (tlog-checkpoint)",
    responses={
        200: {
            "description": "A c2sp.org/tlog-checkpoint note with the cosignatures kept for it",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **NOT_FOUND,
    },
)
async def checkpoint_note(
    service: ServiceDep,
    _: Auditor,
    size: Annotated[
        int | None,
        Query(ge=0, le=MAX_POSITION, description="Tree size of the checkpoint; default the latest"),
    ] = None,
) -> Response:
    """The checkpoint as a C2SP note: origin ``custody-ledger/<key id>``, tree size, base64
    root, an Ed25519 note signature under the origin as key name (the same key as the JSON
    checkpoints), then any witness cosignatures (docs/decisions/0012)."""
    result = await _run(lambda: service.checkpoint_note(size))
    if isinstance(result, JSONResponse):
        return result
    return Response(result, media_type=NOTE_MEDIA)


@router.post(
    "/cosignatures",
    summary="Send a witness cosignature of a checkpoint note (tlog-witness semantics)",
    responses={
        200: {
            "description": "The cosignature lines kept",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        409: {
            "description": "A root other than the ledger's (split view), or a size below "
            "one this witness cosigned here: the body is the size held (tlog-witness)",
            "content": {TLOG_SIZE: {"schema": {"type": "string"}}},
        },
        **problem_responses(404),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The checkpoint note with the witness's cosignature line(s)",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def add_cosignature(
    request: Request,
    service: ServiceDep,
    _: Auditor,
    witness: Annotated[
        str,
        Query(
            max_length=400,
            pattern=VERIFIER_KEY_PATTERN,
            description="The witness's verifier key: name+key id+base64(0x04 || public key)",
        ),
    ],
) -> Response:
    """The body is the checkpoint note (as ``GET /v1/audit/checkpoint`` gave it) with
    the witness's cosignature line(s) appended, as text. The ledger keeps the lines that
    verify under ``witness`` and serves them with the note from then on."""
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        kept = await run_in_threadpool(lambda: service.add_cosignature(witness, body))
    except WitnessRefusal as refusal:
        if refusal.status == 409 and refusal.size is not None:
            return Response(f"{refusal.size}\n", status_code=409, media_type=TLOG_SIZE)
        field = refusal.detail.partition(":")[0] if refusal.status == 422 else None
        slug, title = _REFUSALS.get(refusal.status, ("cosignature-refused", "Cosignature refused"))
        found = [{"field": field, "message": refusal.detail}] if field else None
        return errors.problem(refusal.status, slug, title, refusal.detail, found)
    except IntegrityFailure as exc:
        return _failure(exc)
    return Response(kept, media_type=NOTE_MEDIA)
