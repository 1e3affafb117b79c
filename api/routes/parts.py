"""``/v1/parts/{serial}``: every asset a part serial appeared on (DOMAIN.md §3: part
serials are kept and searchable)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Reader, ServiceDep
from api.params import View
from api.schemas import READ_PROBLEMS, FastJSON, StrictRoute
from ledger.facade import m

router = APIRouter(prefix="/v1", tags=["parts"], responses=READ_PROBLEMS, route_class=StrictRoute)


@router.get(
    "/parts/{serial:path}",
    response_model=m.PartSightings,
    summary="Every asset a part serial appeared on",
    description=(
        "The effective `repair_completed` records (as known at `known_at`, that happened "
        'by `as_of`) whose `parts` name this serial — as `{"part", "serial", '
        '"quantity"}` items; a part given as a bare string has no serial. A retracted '
        "record drops out; a corrected one counts as corrected. A serial is matched "
        "exactly (case and spaces included); one holding `/` is given as is or "
        "percent-encoded. An unknown serial answers an empty list, not a 404: a part "
        "nobody has reported yet is not an error."
    ),
)
def get_part(service: ServiceDep, _: Reader, view: View, serial: str) -> FastJSON:
    found = service.parts(serial, as_of=view.as_of, known_at=view.known_at)
    return FastJSON(found, view.position)
