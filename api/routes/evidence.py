"""Evidence bundles (docs/decisions/0012): one self-contained JSON file per answer —
the answer, every event it depends on with a ``c2sp.org/tlog-proof@v1`` inclusion
proof, the signed checkpoint covering ``known_at`` and the signed subject statements
that prove none was left out — checked offline by ``ledger verify --evidence FILE``.

Auditors only: a bundle carries raw log events and proofs (SPEC.md §2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response

from api import errors
from api.deps import Auditor, ServiceDep
from api.params import FindingsView, ReportPeriod, View
from api.schemas import NOT_FOUND, READ_PROBLEMS, FastJSON, StrictRoute, problem_responses
from ledger.facade import IntegrityFailure

router = APIRouter(
    prefix="/v1",
    tags=["evidence"],
    responses={**READ_PROBLEMS, **NOT_FOUND, **problem_responses(500)},
    route_class=StrictRoute,
)

BUNDLE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A `custody-ledger-evidence/1` bundle",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def _bundle(make: Callable[[], dict[str, Any]], name: str, position: int) -> Response:
    try:
        found = make()
    except IntegrityFailure as exc:
        return errors.problem(500, "integrity-failure", exc.title, exc.detail)
    stamp = str(found["query"]["known_at"]).replace(":", "")
    response = FastJSON(found, position)
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in name)
    response.headers["Content-Disposition"] = f'attachment; filename="evidence-{safe}-{stamp}.json"'
    return response


@router.get(
    "/assets/{asset_id}/evidence",
    responses=BUNDLE,
    summary="An evidence bundle for the asset's state at (as_of, known_at)",
)
def asset_evidence(service: ServiceDep, _: Auditor, view: View, asset_id: str) -> Response:
    """The asset's state as ``GET /v1/assets/{asset_id}`` gives it (its findings have
    bundles of their own), with every event of the asset, every retraction and
    correction of them and every reference event up to one checkpoint that covers
    ``known_at``. Without ``known_at``: as known at that checkpoint's time; without
    ``as_of``: at ``known_at``."""
    return _bundle(
        lambda: service.asset_evidence(asset_id, as_of=view.as_of, known_at=view.known_at),
        asset_id,
        view.position,
    )


@router.get(
    "/evidence/findings/{finding_key:path}",
    responses=BUNDLE,
    summary="An evidence bundle for one finding as known at known_at",
)
def finding_evidence(
    service: ServiceDep, _: Auditor, view: FindingsView, finding_key: str
) -> Response:
    """The finding as ``GET /v1/findings/{finding_key}`` gives it at ``known_at`` (its
    version then, evidence events and life), recomputed offline from the bundled events
    with the rule catalogue. A contract-level finding (C01–C03) brings the events of the
    contract and of every asset of it, as the contract report's bundle does. ``as_of``
    is not used."""
    return _bundle(
        lambda: service.finding_evidence(finding_key, known_at=view.known_at),
        finding_key,
        view.position,
    )


@router.get(
    "/contracts/{contract_id}/evidence",
    responses=BUNDLE,
    summary="An evidence bundle for the contract report at (as_of, known_at)",
)
def contract_evidence(
    service: ServiceDep,
    _: Auditor,
    view: View,
    contract_id: str,
    period: ReportPeriod,
) -> Response:
    """The contract report as ``GET /v1/contracts/{contract_id}/report`` computes it from
    the log (findings with their lives as walked from the bundled events, which are all
    the knowledge up to the checkpoint), with every event of the contract and of each of
    its assets, every registration (from which a verifier learns which assets those
    are) and the checkpoint's last event (the report's reproducibility block names it),
    each with an inclusion proof."""
    return _bundle(
        lambda: service.contract_evidence(
            contract_id,
            as_of=view.as_of,
            known_at=view.known_at,
            period_from=period.start,
            period_to=period.end,
        ),
        contract_id,
        view.position,
    )
