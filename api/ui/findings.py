"""The findings: the list at ``/ui/findings`` with the filters of ``GET /v1/findings``,
and one finding at ``/ui/findings/{finding_key}``.

The list builds one ``FindingsQuery``, the object the JSON route builds
(``api.params.findings_query``), and asks ``LedgerService.findings`` for it. The page
reads its form leniently (``api.ui.fields``: a blank field is "not set", a checkbox may
say "on"), which the JSON route's strict parameters would reject, so it has its own
reading of the same filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request, Response

from api.deps import ServiceDep
from api.params import CLEARED as CLEARED_VALUES
from api.params import ViewParams
from api.ui import fields
from api.ui.auth import UiReader
from api.ui.format import query
from api.ui.pages import PageView, PageViewDep, page, page_router, parties_by_id
from api.ui.paging import Paging
from domain.rules.catalogue import RULE_NAMES
from ledger.facade import FindingsQuery, LedgerService

router = page_router()

KINDS = ("state", "event", "discrepancy")
CLEARED = ("false", "true", "any")


@dataclass(frozen=True)
class FindingsForm:
    """The list's filters as read from the form: the text to show back, and the values."""

    texts: dict[str, str]  # rule, kind, asset, contract, party, cleared
    instants: dict[str, tuple[str, datetime | None]]  # by name: as typed, as read
    hindsight: bool
    cursor: str | None
    limit: int
    typed_limit: str | None  # as the reader asked, for the next page's link

    def query(self, view: ViewParams) -> FindingsQuery:
        """The same query object as the JSON route's, at the page's knowledge time."""
        texts, instants = self.texts, self.instants
        return FindingsQuery(
            rule=texts["rule"] or None,
            kind=texts["kind"] or None,
            asset=texts["asset"] or None,
            contract=texts["contract"] or None,
            party=texts["party"] or None,
            cleared=CLEARED_VALUES[texts["cleared"]],
            active_at=instants["active_at"][1],
            known_at=view.known_at,
            hindsight=self.hindsight,
            detected_from=instants["detected_from"][1],
            detected_to=instants["detected_to"][1],
            cleared_from=instants["cleared_from"][1],
            cleared_to=instants["cleared_to"][1],
            cursor=self.cursor,
            limit=self.limit,
        )

    def shown(self, pv: PageView) -> dict[str, str]:
        """The filters as the form shows them back (and as the next page's link keeps them)."""
        return {
            **self.texts,
            **{name: typed for name, (typed, _) in self.instants.items()},
            "known_at": pv.known_at,
            "hindsight": "true" if self.hindsight else "",
        }


def findings_form(
    rule: str | None = None,
    kind: str | None = None,
    asset: str | None = None,
    contract: str | None = None,
    party: str | None = None,
    cleared: str | None = None,
    active_at: str | None = None,
    hindsight: str | None = None,
    detected_from: str | None = None,
    detected_to: str | None = None,
    cleared_from: str | None = None,
    cleared_to: str | None = None,
    cursor: str | None = None,
    limit: str | None = None,
) -> FindingsForm:
    texts = {
        "rule": fields.text(rule),
        "kind": fields.choice("kind", kind, KINDS),
        "asset": fields.text(asset),
        "contract": fields.text(contract),
        "party": fields.text(party),
        "cleared": fields.choice("cleared", cleared, CLEARED, "false"),
    }
    typed = {
        "active_at": active_at,
        "detected_from": detected_from,
        "detected_to": detected_to,
        "cleared_from": cleared_from,
        "cleared_to": cleared_to,
    }
    instants = {name: fields.instant(name, value) for name, value in typed.items()}
    all_knowledge = fields.flag("hindsight", hindsight)
    size = fields.limit(limit)
    return FindingsForm(texts, instants, all_knowledge, fields.optional(cursor), size, limit)


FindingsFormDep = Annotated[FindingsForm, Depends(findings_form)]


def _finding_view(pv: PageView, hindsight: bool) -> dict[str, str]:
    """How a finding's own page should be asked for, to show it as this page does."""
    return {"known_at": "" if hindsight else pv.known_at, "hindsight": "true" if hindsight else ""}


def _list_context(
    service: LedgerService, pv: PageView, form: FindingsForm, found: dict[str, Any]
) -> dict[str, Any]:
    view = pv.view
    filters = form.shown(pv)
    next_page = (
        query({**filters, "cursor": found["cursor"], "limit": form.typed_limit or ""})
        if found["cursor"]
        else None
    )
    return {
        "found": found,
        "findings": found["findings"],
        "filters": filters,
        "rules": RULE_NAMES,
        "kinds": KINDS,
        "contracts": service.contract_ids(known_at=view.known_at),
        "parties": parties_by_id(service, view),
        "finding_query": query(_finding_view(pv, form.hindsight)),
        "time_query": query({"known_at": pv.known_at}),
        "more_open": any(
            filters[k] for k in ("detected_from", "detected_to", "cleared_from", "cleared_to")
        ),
        "filtered": any(
            filters[k]
            for k in ("rule", "kind", "asset", "contract", "party", "active_at", "known_at")
        )
        or filters["cleared"] != "false"
        or form.hindsight,
        "next_page": next_page,
    }


@router.get("/findings")
def findings_list(
    request: Request,
    service: ServiceDep,
    principal: UiReader,
    pv: PageViewDep,
    form: FindingsFormDep,
) -> Response:
    found = service.findings(form.query(pv.view)).plain()
    return page(
        request,
        "findings.html",
        {
            "principal": principal,
            "nav": "findings",
            **_list_context(service, pv, form, found),
        },
        position=pv.view.position,
    )


@router.get("/findings/{finding_key:path}")
def finding_page(
    request: Request,
    service: ServiceDep,
    principal: UiReader,
    pv: PageViewDep,
    finding_key: str,
    hindsight: str | None = None,
) -> Response:
    view = pv.view
    all_knowledge = fields.flag("hindsight", hindsight)
    f = service.finding(finding_key, known_at=view.known_at, hindsight=all_knowledge).plain()
    return page(
        request,
        "finding.html",
        {
            "principal": principal,
            "nav": "findings",
            "f": f,
            "paging": Paging.of(request.url.path, request.query_params.multi_items()),
            "hindsight": all_knowledge,
            "known_at": pv.known_at,
            "time_query": query({"known_at": "" if all_knowledge else pv.known_at}),
        },
        position=view.position,
    )
