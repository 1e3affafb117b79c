"""Write-side checks that need nothing but the event itself (DOMAIN.md §3).

The write side rejects only malformed input; every semantic contradiction becomes a
finding later. Each problem names the offending field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.instants import parse
from domain.vocabulary import ASSET_TYPES, REFERENCE_TYPES, EventType

CLOCK_SKEW = timedelta(minutes=5)
# A correction changes what happened in the world, never the ledger's own record of
# when it learnt it (knowledge and server fields): those are fixed by the chain.
UNCORRECTABLE = frozenset(
    {"type", "asset_ids", "event_id", "reported_at", "recorded_at", "recorded_by", "prev_hash"}
)


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


def check_event(record: Mapping[str, Any], knowledge_time: datetime) -> list[FieldProblem]:
    """Problems with ``record`` given the time the ledger learns of it."""
    problems: list[FieldProblem] = []
    etype = EventType(record["type"])
    assets = record.get("asset_ids", [])
    payload: Mapping[str, Any] = record.get("payload", {})

    if etype in ASSET_TYPES and not assets:
        problems.append(FieldProblem("asset_ids", f"{etype} must name at least one asset"))
    if etype in REFERENCE_TYPES and assets:
        problems.append(FieldProblem("asset_ids", f"{etype} is reference data: no asset_ids"))
    if etype is EventType.ASSET_REGISTERED and len(assets) != 1:
        problems.append(FieldProblem("asset_ids", "asset_registered names exactly one asset"))
    if (
        etype is EventType.ASSET_REGISTERED
        and record.get("contract_id") is not None
        and record["contract_id"] != payload.get("contract_id")
    ):
        problems.append(
            FieldProblem("contract_id", "must equal payload.contract_id when both are given")
        )

    occurred = parse(record["occurred_at"])
    limit = knowledge_time + CLOCK_SKEW
    if occurred > limit:
        problems.append(
            FieldProblem("occurred_at", "is more than 5 minutes after the knowledge time")
        )
    if record.get("discovered_at") is not None and parse(record["discovered_at"]) > limit:
        problems.append(
            FieldProblem("discovered_at", "is more than 5 minutes after the knowledge time")
        )
    if (
        record.get("occurred_earliest") is not None
        and parse(record["occurred_earliest"]) > occurred
    ):
        problems.append(FieldProblem("occurred_earliest", "must not be after occurred_at"))
    if record.get("occurred_latest") is not None and parse(record["occurred_latest"]) < occurred:
        problems.append(FieldProblem("occurred_latest", "must not be before occurred_at"))

    if etype is EventType.CUSTODY_TRANSFERRED and payload["from_party"] == payload["to_party"]:
        problems.append(FieldProblem("payload.to_party", "a transfer must change the party"))
    if (
        etype in (EventType.REPAIR_STARTED, EventType.REPAIR_COMPLETED)
        and payload.get("work_order_id") is None
        and payload.get("performed_by_party") == record.get("reporter")
    ):
        problems.append(
            FieldProblem(
                "payload.work_order_id",
                "is required when the reporter is the performer; it may be absent only "
                "in a report by someone else (a leaked or observed repair)",
            )
        )
    if etype is EventType.EVENT_CORRECTED:
        for path in payload["corrected_fields"]:
            if path.split(".", 1)[0] in UNCORRECTABLE:
                problems.append(
                    FieldProblem(
                        f"payload.corrected_fields.{path}",
                        "identity and knowledge fields cannot be corrected: retract and record anew",
                    )
                )
    if etype is EventType.INVENTORY_COMPLETED:
        listed = [line["asset_id"] for line in payload["results"]]
        if len(set(listed)) != len(listed):
            problems.append(FieldProblem("payload.results", "an asset appears twice"))
    return problems
