"""``/v1/epcis``: the log as GS1 EPCIS 2.0 documents, and capture of such documents.

The mapping is docs/epcis.md; its reasons docs/decisions/0011-epcis.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Auditor, ServiceDep, Writer
from api.params import MAX_POSITION, GivenInstant, parse_instant
from api.schemas import APPEND_PROBLEMS, READ_PROBLEMS, FastJSON, StrictRoute
from domain.instants import INSTANT_PATTERN
from ledger.facade import CaptureOutcome, Principal

router = APIRouter(prefix="/v1/epcis", tags=["EPCIS 2.0"], route_class=StrictRoute)

# The domain's instant pattern: the OpenAPI document spells the calendar out (api.openapi).
INSTANT = INSTANT_PATTERN
OFFSET = r"^([+]|[-])((0[0-9]|1[0-3]):([0-5][0-9])|14:00)$"


class EpcisEventDoc(BaseModel):
    """An EPCIS 2.0 event: what GS1's schema requires of every event, and more."""

    model_config = ConfigDict(extra="allow")

    type: Literal[
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    ]
    eventTime: Annotated[str, Field(pattern=INSTANT)]
    eventTimeZoneOffset: Annotated[str, Field(pattern=OFFSET)]


class EpcisBodyDoc(BaseModel):
    model_config = ConfigDict(extra="allow")

    eventList: list[EpcisEventDoc] = Field(min_length=1)


class EpcisCaptureDocument(BaseModel):
    """An ``EPCISDocument`` to capture (GS1 EPCIS 2.0, JSON-LD). The server validates it
    against GS1's normative JSON Schema, which says more than this summary: see
    docs/epcis.md."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    context: str | dict[str, Any] | list[str | dict[str, Any]] = Field(alias="@context")
    type: Literal["EPCISDocument"]
    schemaVersion: Annotated[str, Field(pattern=r"^\d+(\.\d+)*$")]
    creationDate: Annotated[str, Field(pattern=INSTANT)]
    epcisBody: EpcisBodyDoc


class EpcisDocumentPage(BaseModel):
    """A page of the log as an ``EPCISDocument``: valid against GS1's EPCIS 2.0 schema.
    Each event's ``eventID`` is its CBV 2.0 hash id; ``ledger:hash``, ``ledger:position``
    and ``ledger:event`` carry the ledger's own hash, position and record."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    context: list[Any] = Field(alias="@context")
    type: Literal["EPCISDocument"]
    schemaVersion: str
    creationDate: str
    epcisBody: dict[str, list[dict[str, Any]]] = Field(
        description="`eventList`: one ObjectEvent per ledger event (two for a correction)."
    )
    next_cursor: str | None = Field(
        alias="ledger:nextCursor",
        description="Pass as `cursor` for the next page; null at the head of the log.",
    )


class CapturedEvent(BaseModel):
    epcis_event_id: str = Field(description="The EPCIS eventID (or CBV hash id when absent).")
    event_id: str = Field(description="The ledger event it became.")
    position: int
    recorded_at: str
    hash: str
    replayed: bool = Field(description="Already stored by an earlier capture: nothing new.")


class CaptureResponse(BaseModel):
    stored: int = Field(description="Ledger events stored by this request.")
    replayed: int = Field(description="Events already stored (a retried capture).")
    results: list[CapturedEvent]
    corrective_events_shown: list[str] = Field(
        description="Corrective events of corrections the document itself declares: "
        "stored as those corrections, not as events of their own."
    )


CAPTURE_EXAMPLE: dict[str, Any] = {
    "@context": [
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        {"ledger": "urn:custody-ledger:epcis:"},
    ],
    "type": "EPCISDocument",
    "schemaVersion": "2.0",
    "creationDate": "2014-07-03T08:00:00Z",
    "epcisBody": {
        "eventList": [
            {
                "type": "ObjectEvent",
                "eventID": "urn:uuid:5b0e3c1e-2f42-4a8e-9a55-0c3f7c8e1d21",
                "eventTime": "2014-07-02T00:00:00Z",
                "eventTimeZoneOffset": "+03:00",
                "epcList": ["urn:custody-ledger:asset:M1A1-0042"],
                "action": "OBSERVE",
                "bizStep": "inspecting",
                "ledger:event": {
                    "type": "observation",
                    "reporter": "iq-army",
                    "source": {"kind": "osint", "ref": "iq-army/osint/2014-07-02/115"},
                    "confidence": "possible",
                    "payload": {
                        "observed_party": "isil",
                        "condition": "operational",
                        "activity": "Seen again near Baiji",
                    },
                },
            }
        ]
    },
}


def _captured(outcome: CaptureOutcome) -> CaptureResponse:
    results = [
        CapturedEvent(
            epcis_event_id=c.epcis_event_id,
            event_id=c.result.event_id,
            position=c.result.position,
            recorded_at=c.result.recorded_at,
            hash=c.result.hash,
            replayed=c.result.replayed,
        )
        for c in outcome.captured
    ]
    return CaptureResponse(
        stored=outcome.stored,
        replayed=len(results) - outcome.stored,
        results=results,
        corrective_events_shown=outcome.skipped,
    )


@router.get(
    "/events",
    response_model=EpcisDocumentPage,
    responses=READ_PROBLEMS,
    summary="The log as an EPCIS 2.0 document",
)
def epcis_events(
    service: ServiceDep,
    _: Auditor,
    asset: Annotated[str | None, Query(description="Events naming this asset")] = None,
    contract: Annotated[
        str | None, Query(description="Events of this contract or of its assets")
    ] = None,
    party: Annotated[
        str | None, Query(description="Events naming or reported by this party")
    ] = None,
    event_time_from: GivenInstant = None,
    event_time_to: GivenInstant = None,
    record_time_from: GivenInstant = None,
    record_time_to: GivenInstant = None,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,19}$", description="`ledger:nextCursor` of a page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Ledger events in log order as ObjectEvents (docs/epcis.md): serials as EPCs,
    parties as `possessing_party` source/destination, facilities as `bizLocation`,
    `occurred_at` as `eventTime`, knowledge time as `recordTime`, the rest under
    `ledger:event`; a retraction or correction as an `errorDeclaration` on its target.
    Time windows are half-open (`from` ≤ t < `to`): `event_time_*` on valid time,
    `record_time_*` on knowledge time. An amendment is selected by what its target is
    about."""
    after = min(int(cursor), MAX_POSITION) if cursor is not None else 0
    page = service.epcis_events(
        after=after,
        limit=limit,
        asset=asset,
        contract=contract,
        party=party,
        event_time_from=parse_instant("event_time_from", event_time_from),
        event_time_to=parse_instant("event_time_to", event_time_to),
        record_time_from=parse_instant("record_time_from", record_time_from),
        record_time_to=parse_instant("record_time_to", record_time_to),
    )
    return FastJSON(page)


@router.post(
    "/capture",
    status_code=201,
    response_model=CaptureResponse,
    responses={
        200: {"description": "Every event was already stored", "model": CaptureResponse},
        **APPEND_PROBLEMS,
    },
    summary="Capture an EPCIS 2.0 document: all its events, or none",
)
def epcis_capture(
    service: ServiceDep,
    principal: Writer,
    response: Response,
    document: Annotated[
        EpcisCaptureDocument,
        Body(
            media_type="application/ld+json",
            openapi_examples={
                "observation": {
                    "summary": "A sighting in the ledger's own form (after the events' examples)",
                    "value": CAPTURE_EXAMPLE,
                }
            },
        ),
    ],
) -> CaptureResponse:
    """Validates the document against GS1's EPCIS 2.0 JSON Schema, maps every event
    (docs/epcis.md) and appends them atomically through the normal append path: the
    same roles, checks and idempotency as `POST /v1/events:batch`, at most as many
    events. An event's ledger id follows from its `eventID` (or CBV hash id), so a
    retried capture is a replay (200). An `errorDeclaration` on a known event becomes
    a retraction. A refusal names each EPCIS event (`epcisBody.eventList[i]`), field and
    `eventID`; nothing is stored. `recordTime` is kept as knowledge time for importer
    and admin keys only; an event without `ledger:event` is reported by the key's party."""
    principal_: Principal = principal
    outcome = service.epcis_capture(document.model_dump(by_alias=True), principal_)
    out = _captured(outcome)
    if out.stored == 0:
        response.status_code = 200
    return out
