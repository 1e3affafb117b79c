"""Findings, compliance and the contract report through HTTP, on the worked example
of the story (ledger demo): known then versus hindsight, filters, evidence and life,
support suspension, the printable report."""

from __future__ import annotations

import pytest

from ledger.cli.demo import load_demo
from tests.api.conftest import Api

BEFORE_LATE_REPORT = "2016-06-01T00:00:00Z"  # the militia's recovery was reported 2017-02-01


@pytest.fixture
def demo(api: Api) -> Api:
    load_demo(api.ledger)
    return api


def keys(body: dict[str, object]) -> set[str]:
    return {f["finding_key"] for f in body["findings"]}  # type: ignore[attr-defined]


def test_findings_of_the_story(demo: Api) -> None:
    r = demo.get("/v1/findings?hindsight=true&cleared=any", role="investigator")
    assert r.status_code == 200, r.text
    found = keys(r.json())
    assert "R01/M1A1-002/pmf-kh/2015-03-01T00:00:00Z" in found
    assert "R09/demo-illegal-repair/M1A1-002" in found
    assert "C01/fms-iq-m1/2014-07-10T06:00:00Z" in found


def test_known_then_hides_what_was_not_yet_reported(demo: Api) -> None:
    then = keys(demo.get(f"/v1/findings?known_at={BEFORE_LATE_REPORT}&cleared=any").json())
    assert "R01/M1A1-002/pmf-kh/2015-03-01T00:00:00Z" not in then
    assert "R01/M1A1-002/isil/2014-06-10T06:00:00Z" in then


def test_filters_by_rule_asset_and_kind(demo: Api) -> None:
    body = demo.get("/v1/findings?rule=R09&asset=M1A1-002").json()
    assert keys(body) == {
        "R09/demo-illegal-repair/M1A1-002",
        "R09/demo-illegal-repair-done/M1A1-002",
    }
    assert all(f["kind"] == "event" for f in body["findings"])
    states = demo.get(
        "/v1/findings?kind=state&active_at=2014-07-01T00:00:00Z&contract=fms-iq-m1"
    ).json()
    assert all(f["kind"] == "state" for f in states["findings"])
    assert demo.get("/v1/findings?kind=bogus").status_code == 422


def test_one_finding_with_its_evidence_and_life(demo: Api) -> None:
    key = "R01/M1A1-002/pmf-kh/2015-03-01T00:00:00Z"
    r = demo.get(f"/v1/findings/{key}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["detected_at"].startswith("2017-02-01")
    assert "demo-militia-recovers" in [e["event_id"] for e in body["evidence_events"]]
    assert body["life"][0]["change"] == "detected"
    early = demo.get(f"/v1/findings/{key}?known_at={BEFORE_LATE_REPORT}")
    assert early.status_code == 404


def test_contract_compliance_says_suspend_and_why(demo: Api) -> None:
    body = demo.get("/v1/contracts/fms-iq-m1").json()
    compliance = body["compliance"]
    assert compliance["support"] == "suspend"
    assert compliance["suspension_in_effect"] is True
    assert [h["asset_id"] for h in compliance["holding_support_back"]] == ["M1A1-002"]


def test_asset_view_lists_its_active_findings(demo: Api) -> None:
    body = demo.get("/v1/assets/M1A1-002").json()
    assert "R01/M1A1-002/pmf-kh/2015-03-01T00:00:00Z" in {
        f["finding_key"] for f in body["findings"]
    }
    timeline = demo.get("/v1/assets/M1A1-002/timeline").json()
    rec = next(e for e in timeline["events"] if e["event_id"] == "demo-militia-recovers")
    assert "R01/M1A1-002/pmf-kh/2015-03-01T00:00:00Z" in rec["findings"]


def test_contract_report_json_and_printable_html(demo: Api) -> None:
    r = demo.get(
        "/v1/contracts/fms-iq-m1/report?from=2014-01-01T00:00:00Z&to=2018-01-01T00:00:00Z",
        role="auditor",
    )
    assert r.status_code == 200, r.text
    report = r.json()
    for section in (
        "assets",
        "enforcement",
        "open_state_findings",
        "event_findings",
        "inventory",
        "corrections",
        "restatements",
        "reproducibility",
    ):
        assert section in report
    assert report["reproducibility"]["log_head_position"] == demo.log_size()
    html = demo.client.get(
        "/v1/contracts/fms-iq-m1/report", headers={**demo.headers("auditor"), "Accept": "text/html"}
    )
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    for heading in ("Support", "Assets", "Open state findings", "Restatements", "Reproducibility"):
        assert f">{heading}<" in html.text
    assert "SUSPEND SUPPORT" in html.text
    assert demo.get("/v1/contracts/fms-iq-m1/report", role="investigator").status_code == 403
    assert demo.get("/v1/contracts/nope/report").status_code == 404


def test_findings_survive_a_rebuild_identically(demo: Api) -> None:
    before = demo.get("/v1/findings?hindsight=true&cleared=any&limit=1000").json()["findings"]
    demo.ledger.runner.rebuild()
    after = demo.get("/v1/findings?hindsight=true&cleared=any&limit=1000").json()["findings"]
    assert before == after


@pytest.mark.parametrize(
    "extra", ["", "&rule=R05", "&party=isil", "&active_at=2015-06-01T00:00:00Z"]
)
def test_paging_with_the_cursor_gives_every_finding_once(demo: Api, extra: str) -> None:
    whole = demo.get(f"/v1/findings?hindsight=true&cleared=any&limit=1000{extra}").json()
    expected = [f["finding_key"] for f in whole["findings"]]
    assert whole["cursor"] is None
    seen: list[str] = []
    cursor = ""
    for _ in range(len(expected) + 1):
        body = demo.get(f"/v1/findings?hindsight=true&cleared=any&limit=2{extra}{cursor}").json()
        seen += [f["finding_key"] for f in body["findings"]]
        if body["cursor"] is None:
            break
        assert len(body["findings"]) == 2
        cursor = f"&cursor={body['cursor']}"
    assert seen == expected and len(set(seen)) == len(seen)
