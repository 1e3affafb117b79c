"""The custody board, ``/ui/assets``: every asset at the page's time, grouped by
contract and then by custodian, with the filters of ``GET /v1/assets``.

The listing is ``LedgerService.assets``, as the JSON route's; the page adds the
grouping, the parties' names and the link to the next page of results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response

from api.deps import ServiceDep
from api.ui import fields
from api.ui.auth import UiReader
from api.ui.format import query
from api.ui.pages import PageView, PageViewDep, page, page_router, parties_by_id
from ledger.facade import LedgerService

router = page_router()

STATUSES = ("IN_CUSTODY", "LOST", "DESTROYED", "DECOMMISSIONED")

Asset = dict[str, Any]
# Custodian id, the party as known (if it is), and the assets it holds.
CustodianRows = tuple[str, dict[str, Any] | None, list[Asset]]


@dataclass(frozen=True)
class BoardFilters:
    """The board's filters as read from the form (blank means "not set")."""

    contract: str | None
    custodian: str | None
    status: str | None
    accounted: bool | None
    cursor: str | None
    limit: int

    @classmethod
    def read(
        cls,
        contract: str | None,
        custodian: str | None,
        status: str | None,
        accounted: str | None,
        cursor: str | None,
        limit: str | None,
    ) -> BoardFilters:
        return cls(
            contract=fields.optional(contract),
            custodian=fields.optional(custodian),
            status=fields.choice("status", status, STATUSES) or None,
            accounted=fields.either("accounted", accounted),
            cursor=fields.optional(cursor),
            limit=fields.limit(limit),
        )

    def shown(self, pv: PageView) -> dict[str, str]:
        """The filters as the form shows them back, with the page's time."""
        return {
            "contract": self.contract or "",
            "custodian": self.custodian or "",
            "status": self.status or "",
            "accounted": "" if self.accounted is None else str(self.accounted).lower(),
            **pv.params(),
        }


def _groups(
    assets: list[Asset], parties: dict[str, dict[str, Any]]
) -> list[tuple[str, list[CustodianRows]]]:
    """By contract (in id order), then by custodian (in id order, no custodian last)."""
    groups: dict[str, dict[str, list[Asset]]] = {}
    for a in assets:
        groups.setdefault(a.get("contract_id") or "", {}).setdefault(
            a.get("custodian") or "", []
        ).append(a)
    return [
        (
            contract_id,
            [
                (custodian_id, parties.get(custodian_id), rows)
                for custodian_id, rows in sorted(
                    by_custodian.items(), key=lambda kv: (kv[0] == "", kv[0])
                )
            ],
        )
        for contract_id, by_custodian in sorted(groups.items())
    ]


def _context(
    service: LedgerService,
    pv: PageView,
    chosen: BoardFilters,
    listing: dict[str, Any],
    limit: str | None,
) -> dict[str, Any]:
    parties = parties_by_id(service, pv.view)
    contracts = service.contract_ids(known_at=pv.view.known_at)
    assets = listing["assets"]
    filters = chosen.shown(pv)
    next_page = (
        query({**filters, "cursor": listing["cursor"], "limit": limit or ""})
        if listing["cursor"]
        else None
    )
    return {
        "groups": _groups(assets, parties),
        "assets": assets,
        "accounted_count": sum(1 for a in assets if a["accounted_for"]),
        "parties": parties,
        "contracts": contracts,
        "statuses": STATUSES,
        "filters": filters,
        "time_params": pv.params(),
        "as_of_shown": assets[0]["as_of"] if assets else None,
        "next_page": next_page,
        "filtered": any(filters[k] for k in ("contract", "custodian", "status", "accounted")),
    }


@router.get("/assets")
def board(
    request: Request,
    service: ServiceDep,
    principal: UiReader,
    pv: PageViewDep,
    contract: str | None = None,
    custodian: str | None = None,
    status: str | None = None,
    accounted: str | None = None,
    cursor: str | None = None,
    limit: str | None = None,
) -> Response:
    chosen = BoardFilters.read(contract, custodian, status, accounted, cursor, limit)
    view = pv.view
    listing = service.assets(
        contract=chosen.contract,
        custodian=chosen.custodian,
        status=chosen.status,
        accounted=chosen.accounted,
        as_of=view.as_of,
        known_at=view.known_at,
        cursor=chosen.cursor,
        limit=chosen.limit,
    ).plain()
    return page(
        request,
        "board.html",
        {"principal": principal, "nav": "board", **_context(service, pv, chosen, listing, limit)},
        position=view.position,
    )
