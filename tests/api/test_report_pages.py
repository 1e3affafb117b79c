"""Lists that grow with a contract, a page at a time (``ledger.reading.listing``): the
contract report (JSON and printable HTML) and the contract view's compliance hold at
most ``limit`` rows of each long list, say how many there are, and hand a cursor to
the next page; walked to the end, the pages hold exactly the whole lists."""

from __future__ import annotations

from typing import Any

import pytest

from api.reports import render_report
from tests import wire
from tests.api.conftest import Api

REPORT = "/v1/contracts/fms-1/report"
LISTS = {
    "assets.accounted_for": ("assets", "accounted_for"),
    "assets.not_accounted_for": ("assets", "not_accounted_for"),
    "inventory.assets": ("inventory", "assets"),
    "open_state_findings": ("open_state_findings",),
}


@pytest.fixture
def contract(seeded: Api) -> Api:
    """Nine assets, four of them captured: every long list of the report has rows."""
    seeded.seed([wire.asset(f"p{i}") for i in range(6)])
    seeded.seed(
        [
            wire.capture(["t1", "p0", "p2", "p4"], "isil", occurred_at="2014-06-10T00:00:00Z"),
        ]
    )
    seeded.ledger.runner.catch_up()
    return seeded


def rows(doc: dict[str, Any], path: tuple[str, ...]) -> list[Any]:
    node: Any = doc
    for p in path:
        node = node[p]
    return list(node)


def test_report_pages_hold_the_whole_lists_and_the_counts_stay_whole(contract: Api) -> None:
    whole = contract.get(REPORT, role="auditor").json()
    assert whole["page"] == {
        "offset": 0,
        "limit": 1000,
        "totals": {
            "assets.accounted_for": 5,
            "assets.not_accounted_for": 4,
            "enforcement.holding_support_back": len(whole["enforcement"]["holding_support_back"]),
            "open_state_findings": len(whole["open_state_findings"]),
            "inventory.assets": 9,
            "corrections": 0,
            "restatements": 0,
        },
        "next_cursor": None,
    }
    assert len(whole["open_state_findings"]) >= 4
    seen: dict[str, list[Any]] = {name: [] for name in LISTS}
    cursor, pages = None, 0
    while True:
        r = contract.get(REPORT, role="auditor", params={"limit": 2, "cursor": cursor or ""})
        assert r.status_code == 200, r.text
        page = r.json()
        pages += 1
        assert page["assets"]["total"] == 9 and page["assets"]["not_accounted"] == 4
        for name, path in LISTS.items():
            assert len(rows(page, path)) <= 2
            seen[name] += rows(page, path)
            assert page["page"]["totals"][name] == len(rows(whole, path))
        cursor = page["page"]["next_cursor"]
        if cursor is None:
            break
        assert page["page"]["limit"] == 2
    longest = max(whole["page"]["totals"].values())
    assert longest > 9 and pages == -(-longest // 2)  # two rows a page
    for name, path in LISTS.items():
        assert seen[name] == rows(whole, path), name


def test_a_printable_page_links_to_the_next(contract: Api) -> None:
    headers = {**contract.headers("auditor"), "Accept": "text/html"}
    first = contract.client.get(REPORT, headers=headers, params={"limit": 4})
    assert first.status_code == 200, first.text
    assert "Rows 1–4 of each long list" in first.text
    assert 'rel="next"' in first.text and "cursor=" in first.text
    totals = contract.get(REPORT, role="auditor").json()["page"]["totals"]
    at = (max(totals.values()) - 1) // 4 * 4  # the last page's first row
    last = contract.client.get(
        REPORT, headers=headers, params={"limit": 4, "cursor": page_cursor(contract, at)}
    )
    longest = max(totals.values())
    assert f"Rows {at + 1}–{min(at + 4, longest)} of each long list" in last.text
    assert 'rel="next"' not in last.text
    whole = contract.client.get(REPORT, headers=headers)
    assert "Rows 1–" not in whole.text  # one page: no pager


def page_cursor(api: Api, offset: int) -> str:
    r = api.get(REPORT, role="auditor", params={"limit": offset})
    cursor = r.json()["page"]["next_cursor"]
    assert cursor is not None
    return str(cursor)


def test_the_contract_view_pages_compliance_with_its_reasons(contract: Api) -> None:
    whole = contract.get("/v1/contracts/fms-1").json()["compliance"]
    first = contract.get("/v1/contracts/fms-1", params={"limit": 3}).json()["compliance"]
    assert first["not_accounted_for"] == whole["not_accounted_for"][:3]
    assert set(first["not_accounted_reasons"]) == set(first["not_accounted_for"])
    assert first["page"]["totals"]["not_accounted_for"] == 4
    nxt = first["page"]["next_cursor"]
    second = contract.get("/v1/contracts/fms-1", params={"limit": 3, "cursor": nxt}).json()
    rest = second["compliance"]
    assert first["accounted_for"] + rest["accounted_for"] == whole["accounted_for"]
    assert rest["page"]["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["nope", "bzEy!", "eDEy"])
def test_a_cursor_the_server_did_not_give_is_refused(contract: Api, cursor: str) -> None:
    r = contract.get(REPORT, role="auditor", params={"cursor": cursor})
    assert r.status_code in (400, 422), r.text
    assert "cursor" in r.text


def test_a_limit_above_the_page_size_is_refused(contract: Api) -> None:
    assert contract.get(REPORT, role="auditor", params={"limit": 1001}).status_code == 422


def test_a_printable_page_shows_every_asset_of_both_lists(contract: Api) -> None:
    """A page holds up to 1,000 assets not accounted for and 1,000 accounted for: the
    assets' table shows all of them, not the first 1,000 of the two joined."""
    doc = contract.get(REPORT, role="auditor").json()
    doc["assets"]["accounted_for"] = [f"acc-{i:04d}" for i in range(1000)]
    doc["assets"]["not_accounted_for"] = [
        {"asset_id": f"gone-{i:04d}", "reason": "lost"} for i in range(1000)
    ]
    html = render_report(doc)
    assert "acc-0999" in html and "gone-0999" in html
