"""The findings pages, findings on the timeline, the contract page and the printable
contract report, in a real browser (Debian's chromium through Playwright) against a
real ``ledger serve`` process loaded with ``ledger demo``.

The fixtures and helpers are ``test_ui.py``'s (one server per module, a key per role).
Every page is compared with what the JSON API answers for the same parameters. The
report is printed to PDF with chromium's own print path (``page.pdf``) and read back
with pypdf. Screenshots go to ``test-artifacts/ui/``; with LEDGER_UPDATE_SCREENSHOTS=1
``findings.png`` and ``report.png`` in ``docs/screenshots/`` are refreshed too.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.e2e import test_ui as ui
from tests.e2e.conftest import Server
from tests.e2e.test_ui import ARTIFACTS, IN_CI, KNOWN_THEN, PHONE, TIMELINE, WIDE, shot, sign_in

pytestmark = pytest.mark.slow

# test_ui.py's fixtures: a browser, one server per module with the demo and a key per
# role, a page signed in as an investigator.
site = ui.site
page = ui.page

MILITIA = "R01/M1A1-002/pmf-kh/2015-03-01T00:00:00Z"
CAPTURED = "R01/M1A1-002/isil/2014-06-10T06:00:00Z"
REPAIR = "R09/demo-illegal-repair/M1A1-002"
SUSPENSION = "C01/fms-iq-m1/2014-07-10T06:00:00Z"
CONTRACT = "/ui/contracts/fms-iq-m1"
REPORT = f"{CONTRACT}/report"
# The report as it could have been made on 2016-06-01: the militia was not yet known.
REPORT_THEN = f"{REPORT}?as_of={quote(KNOWN_THEN)}&known_at={quote(KNOWN_THEN)}"
SECTIONS = (
    "Support",
    "Assets",
    "Open state findings",
    "Event findings",
    "Inventory",
    "Corrections",
    "Restatements",
    "Reproducibility",
)

Site = tuple[Server, dict[str, str]]


def api(server: Server, key: str, path: str, **params: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{server.base}{path}", params=params, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture(scope="module")
def story(site: Site) -> Site:
    """The demo's findings are there: the findings projection has caught up."""
    server, keys = site
    deadline = time.monotonic() + 30
    while True:
        found = api(server, keys["investigator"], "/v1/findings", cleared="any", limit="1000")
        ready = httpx.get(f"{server.base}/readyz").json()
        keys_now = {f["finding_key"] for f in found["findings"]}
        if {MILITIA, REPAIR, SUSPENSION} <= keys_now and ready["projections"]["lag"] == 0:
            return site
        if time.monotonic() > deadline:
            raise AssertionError(f"the demo's findings did not appear: {sorted(keys_now)}")
        time.sleep(0.2)


@pytest.fixture
def auditor_page(browser: Any, story: Site) -> Iterator[Any]:
    server, keys = story
    context = browser.new_context(viewport=WIDE)
    p = context.new_page()
    sign_in(p, server.base, keys["auditor"])
    try:
        yield p
    finally:
        context.close()


def listed(p: Any) -> list[str]:
    return p.eval_on_selector_all(
        "table.findings-table tr.finding-row", "rows => rows.map(r => r.dataset.finding)"
    )


def json_keys(server: Server, key: str, **params: str) -> list[str]:
    return [f["finding_key"] for f in api(server, key, "/v1/findings", **params)["findings"]]


def pdf_text(path: Any) -> tuple[str, Any]:
    try:
        from pypdf import PdfReader
    except ImportError:
        if IN_CI:
            pytest.fail("pypdf not installed (CI=true): .venv/bin/pip install -e '.[dev]'")
        pytest.skip("pypdf not installed: .venv/bin/pip install -e '.[dev]'")
    reader = PdfReader(str(path))
    # NFKC undoes the ligatures the PDF's fonts use ("ﬁ" → "fi").
    text = "\n".join(unicodedata.normalize("NFKC", p.extract_text()) for p in reader.pages)
    return text, reader


# -- the findings list ---------------------------------------------------------------------


def test_the_findings_page_lists_the_story_as_the_json_does(page: Any, story: Site) -> None:
    server, keys = story
    page.goto(f"{server.base}/ui")
    page.click("header.site nav a:has-text('Findings')")
    page.wait_for_url(f"{server.base}/ui/findings")
    assert page.locator("header.site nav a[aria-current=page]").inner_text() == "Findings"
    shown = listed(page)
    assert {MILITIA, REPAIR, SUSPENSION} <= set(shown)
    assert shown == json_keys(server, keys["investigator"])  # what the JSON shows
    row = page.locator(f'tr.finding-row[data-finding="{MILITIA}"]')
    text = row.inner_text()
    for expected in ("R01", "unauthorised custody", "HIGH", "state", "2015-03-01 – open"):
        assert expected in text, text
    assert "pmf-kh" in text and "detected 2017-02-01" in text and "not cleared" in text
    shot(page, "findings.png", doc=True)


def test_the_findings_page_narrows_to_one_rule(page: Any, story: Site) -> None:
    server, keys = story
    page.goto(f"{server.base}/ui/findings")
    page.select_option("#f-rule", "R09")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"rule=R09"))
    r09 = listed(page)
    assert r09 and {k.split("/")[0] for k in r09} == {"R09"} and REPAIR in r09
    assert r09 == json_keys(server, keys["investigator"], rule="R09")
    assert page.input_value("#f-rule") == "R09"


def test_the_findings_page_shows_them_as_known_then_or_with_hindsight(
    page: Any, story: Site
) -> None:
    server, keys = story
    # As known on 2016-06-01: the militia's custody was reported only in 2017.
    page.goto(f"{server.base}/ui/findings")
    page.fill("#f-known_at", KNOWN_THEN)
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"known_at=2016-06-01T00%3A00%3A00Z"))
    then = listed(page)
    assert MILITIA not in then and CAPTURED in then and REPAIR not in then
    assert then == json_keys(server, keys["investigator"], known_at=KNOWN_THEN)
    assert "as known at 2016-06-01" in page.inner_text(".lede")
    # Known then, the capture's custody finding was still open.
    assert "2014-06-10 06:00 UTC – open" in page.inner_text(f'tr[data-finding="{CAPTURED}"]')

    # Hindsight overrides known_at.
    page.check("#f-hindsight")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"hindsight=true"))
    assert MILITIA in listed(page)
    assert "with hindsight" in page.inner_text(".lede")


def test_the_findings_filters_narrow_as_the_json_does(page: Any, story: Site) -> None:
    server, keys = story
    for params in (
        {"kind": "event", "asset": "M1A1-002"},
        {"active_at": "2016-01-01T00:00:00Z", "contract": "fms-iq-m1"},
        {"party": "pmf-kh", "cleared": "any"},
        {"detected_from": "2017-01-01T00:00:00Z", "detected_to": "2017-02-02T00:00:00Z"},
        {"cleared": "true"},
    ):
        page.goto(f"{server.base}/ui/findings?{httpx.QueryParams(params)}")
        assert listed(page) == json_keys(server, keys["investigator"], **params), params
    assert "No findings match these filters" in page.inner_text("main")
    page.goto(f"{server.base}/ui/findings?detected_from=2017-01-01T00:00:00Z")
    assert page.locator("details.more").get_attribute("open") is not None


def test_the_findings_next_page_link_carries_the_filters_on(page: Any, story: Site) -> None:
    server, keys = story
    page.goto(f"{server.base}/ui/findings?limit=5&contract=fms-iq-m1")
    first = listed(page)
    assert len(first) == 5
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(r"cursor="))
    assert "contract=fms-iq-m1" in page.url
    second = listed(page)
    assert second and not set(first) & set(second)
    assert first + second == json_keys(server, keys["investigator"], contract="fms-iq-m1")[:10]


def test_bad_findings_filters_are_a_readable_page(page: Any, story: Site) -> None:
    server, _ = story
    # As on the JSON API: a 422 that names the field.
    answer = page.goto(f"{server.base}/ui/findings?cleared=maybe")
    assert answer.status == 422 and "cleared" in page.inner_text(".problems")
    answer = page.goto(f"{server.base}/ui/findings?active_at=yesterday")
    assert answer.status == 422 and "active_at" in page.inner_text(".problems")


def test_a_finding_page_shows_its_evidence_and_life_as_known_then(
    page: Any,
    story: Site,
) -> None:
    server, keys = story
    page.goto(f"{server.base}/ui/findings")
    page.click(f'tr[data-finding="{CAPTURED}"] a.finding-link')
    page.wait_for_url(f"{server.base}/ui/findings/{CAPTURED}")
    assert page.inner_text("h1") == "R01 unauthorised custody"
    assert page.inner_text("code.key") == CAPTURED
    body = api(server, keys["investigator"], f"/v1/findings/{CAPTURED}")
    assert [
        r
        for r in page.eval_on_selector_all("tr.evidence-row", "rs => rs.map(r => r.dataset.event)")
    ] == [e["event_id"] for e in body["evidence_events"]]
    assert (
        page.eval_on_selector_all("ol.life li", "ls => ls.map(l => l.dataset.change)")
        == [c["change"] for c in body["life"]]
        == ["detected", "revised"]
    )
    assert "2014-06-10 06:00 UTC – 2015-03-01" in page.inner_text("ol.life li[data-change=revised]")
    # As known then: one change, and the interval still open.
    page.fill("#known_at", KNOWN_THEN)
    page.click("form.when button[type=submit]")
    page.wait_for_url(re.compile(r"known_at=2016-06-01"))
    assert page.eval_on_selector_all("ol.life li", "ls => ls.map(l => l.dataset.change)") == [
        "detected"
    ]
    assert "2014-06-10 06:00 UTC – open" in page.inner_text("dl.facts")
    # A finding not yet detected then is a readable 404.
    answer = page.goto(f"{server.base}/ui/findings/{MILITIA}?known_at={quote(KNOWN_THEN)}")
    assert answer.status == 404 and "not yet detected" in page.inner_text("main")
    answer = page.goto(f"{server.base}/ui/findings/R99/nothing")
    assert answer.status == 404
    shot(page, "finding-not-yet.png")


# -- findings on the timeline ------------------------------------------------------------------


def marks(p: Any) -> dict[str, dict[str, Any]]:
    rows = p.eval_on_selector_all(
        "svg.timeline a.finding-mark",
        "els => els.map(e => [e.dataset.finding, e.getAttribute('class'),"
        " e.querySelector('.finding-close') !== null,"
        " e.querySelector('.finding-ongoing') !== null])",
    )
    return {r[0]: {"class": r[1], "closes": r[2], "ongoing": r[3]} for r in rows}


def test_findings_are_marked_on_the_timeline_and_open_their_page(
    page: Any,
    story: Site,
) -> None:
    server, keys = story
    page.goto(f"{server.base}{TIMELINE}")
    timeline = api(server, keys["investigator"], "/v1/assets/M1A1-002/timeline")
    drawn = marks(page)
    assert set(drawn) == {f["finding_key"] for f in timeline["findings"]}
    # Opens and closes: the isil custody finding closed when the militia took over;
    # the militia's is still open. Kind and severity are classes, not only colours.
    assert drawn[CAPTURED]["closes"] and not drawn[CAPTURED]["ongoing"]
    assert drawn[MILITIA]["ongoing"] and not drawn[MILITIA]["closes"]
    assert "finding-state" in drawn[MILITIA]["class"] and "grave" in drawn[MILITIA]["class"]
    assert "finding-event" in drawn[REPAIR]["class"]
    assert page.locator("svg.timeline text.lane-name", has_text="findings").count() == 1
    # Each event row lists the findings it triggered, as the JSON does.
    for entry in timeline["events"]:
        links = page.eval_on_selector_all(
            f"#ev-{entry['event_id']} a.finding-link", "as => as.map(a => a.dataset.finding)"
        )
        assert links == entry["findings"], entry["event_id"]
    shot(page, "timeline-findings.png")

    # Click the militia's mark: its page, with the late recovery report as evidence.
    page.click(f'svg.timeline a.finding-mark[data-finding="{MILITIA}"]')
    page.wait_for_url(f"{server.base}/ui/findings/{MILITIA}")
    evidence = page.locator("tr.evidence-row[data-event=demo-militia-recovers]")
    assert "asset recovered" in evidence.inner_text()
    assert "2017-02-01" in evidence.inner_text()
    # ... which links back to the asset's timeline, at that event.
    evidence.locator("a.timeline-link:has-text('M1A1-002')").click()
    page.wait_for_url(f"{server.base}{TIMELINE}#ev-demo-militia-recovers")

    # The event row's link opens the repair's finding.
    page.click(f'#ev-demo-illegal-repair a.finding-link[data-finding="{REPAIR}"]')
    page.wait_for_url(f"{server.base}/ui/findings/{REPAIR}")
    assert page.locator("tr.evidence-row[data-event=demo-illegal-repair]").count() == 1
    assert "besmaya-depot" in page.inner_text("tr.evidence-row[data-event=demo-illegal-repair]")

    # Known then, the militia's finding is not on the timeline and the isil one is
    # open; a mark opens the finding as known then.
    page.goto(f"{server.base}{TIMELINE}?known_at={quote(KNOWN_THEN)}")
    then = marks(page)
    assert MILITIA not in then and REPAIR not in then
    assert then[CAPTURED]["ongoing"]
    page.click(f'svg.timeline a.finding-mark[data-finding="{CAPTURED}"]')
    page.wait_for_url(re.compile(re.escape(f"/ui/findings/{CAPTURED}?known_at=") + "2016-06-01"))
    assert page.eval_on_selector_all("ol.life li", "ls => ls.map(l => l.dataset.change)") == [
        "detected"
    ]


# -- the contract and its report ---------------------------------------------------------------


def test_the_contract_page_says_suspend_and_why(page: Any, story: Site) -> None:
    server, keys = story
    page.goto(f"{server.base}/ui")
    page.click("header.site nav a:has-text('Contracts')")
    page.wait_for_url(f"{server.base}/ui/contracts")
    page.click("tr[data-contract=fms-iq-m1] a:has-text('fms-iq-m1')")
    page.wait_for_url(f"{server.base}{CONTRACT}")
    body = api(server, keys["investigator"], "/v1/contracts/fms-iq-m1")
    verdict = page.locator(".verdict")
    assert verdict.get_attribute("data-support") == body["compliance"]["support"] == "suspend"
    # What is in effect, with its date: not "suspend", which read as still to be done.
    assert body["compliance"]["suspension_in_effect"] is True
    assert verdict.inner_text().startswith("Support suspended since 2017-12-15")
    assert "Support: suspend" not in verdict.inner_text()
    held = page.eval_on_selector_all("tr.held-row", "rs => rs.map(r => r.dataset.asset)")
    assert held == [h["asset_id"] for h in body["compliance"]["holding_support_back"]]
    assert "2014-06-10 06:00 UTC" in page.inner_text("tr.held-row[data-asset=M1A1-002]")
    assert page.eval_on_selector_all(
        "table.auth-table tbody tr", "rs => rs.map(r => r.dataset.authorization)"
    ) == [a["authorization_id"] for a in body["authorizations"]]
    assert "unaccounted max days" in page.inner_text("table.terms-table")
    # An investigator is told the report needs an auditor; no link to a 403.
    assert page.locator("a.report-link").count() == 0
    assert "needs an auditor key" in page.inner_text("main")
    shot(page, "contract.png")
    # Before the capture, support was allowed.
    page.goto(f"{server.base}{CONTRACT}?as_of=2014-01-01T00:00:00Z")
    assert page.locator(".verdict").get_attribute("data-support") == "eligible"


def test_the_report_is_for_auditors(page: Any, story: Site) -> None:
    server, _ = story
    answer = page.goto(f"{server.base}{REPORT}")
    assert answer.status == 403
    assert page.inner_text("h1") == "Not allowed"
    assert "for auditors" in page.inner_text("main")
    assert "text/html" in answer.headers["content-type"]
    assert page.locator(".report").count() == 0


def open_report(page: Any, server: Server) -> None:
    """The report, reached from its contract's page."""
    page.goto(f"{server.base}{CONTRACT}")
    page.click("a.report-link")
    page.wait_for_url(f"{server.base}{REPORT}")


def make_report_then(page: Any, story: Site) -> dict[str, Any]:
    """From the report page: the report as it could have been made on 2016-06-01,
    against what is known now; returns the JSON API's report for the same."""
    server, keys = story
    open_report(page, server)
    page.fill("#r-as_of", KNOWN_THEN)
    page.fill("#r-known_at", KNOWN_THEN)
    page.click("form.report-controls button[type=submit]")
    page.wait_for_url(re.compile(r"as_of=2016-06-01.*known_at=2016-06-01"))
    return api(
        server,
        keys["auditor"],
        "/v1/contracts/fms-iq-m1/report",
        as_of=KNOWN_THEN,
        known_at=KNOWN_THEN,
    )


def section_rows(page: Any, section: str, attr: str = "finding") -> list[str]:
    rows: list[str] = page.eval_on_selector_all(
        f"#{section} tr[data-{attr}]", f"rs => rs.map(r => r.dataset.{attr})"
    )
    return rows


def test_the_report_shows_every_section(auditor_page: Any, story: Site) -> None:
    server, _ = story
    open_report(auditor_page, server)
    for heading in SECTIONS:
        assert auditor_page.locator(f"main h2:has-text('{heading}')").count() == 1, heading
    assert auditor_page.locator(".verdict").get_attribute("data-support") == "suspend"


def test_the_report_made_then_shows_what_the_json_says(auditor_page: Any, story: Site) -> None:
    page = auditor_page
    report = make_report_then(page, story)
    rows = section_rows
    assert rows(page, "open-state-findings") == [
        f["finding_key"] for f in report["open_state_findings"]
    ]
    assert rows(page, "event-findings") == [f["finding_key"] for f in report["event_findings"]]
    assert rows(page, "restatements") == [x["finding_key"] for x in report["restatements"]]
    assert MILITIA in rows(page, "restatements")
    assert (
        page.locator(f'#restatements tr[data-finding="{MILITIA}"]').get_attribute("data-change")
        == "added"
    )
    assert rows(page, "corrections", "event") == [c["event_id"] for c in report["corrections"]]
    assert sorted(rows(page, "assets", "asset")) == sorted(
        report["assets"]["accounted_for"]
        + [a["asset_id"] for a in report["assets"]["not_accounted_for"]]
    )
    repro = page.inner_text("#reproducibility")
    assert report["reproducibility"]["log_head_hash"] in repro
    assert str(report["reproducibility"]["log_head_position"]) in repro
    # Known then, no suspension was in effect: the gap shows.
    gap = page.inner_text("#verdict table.kv tr:has-text('Enforcement gap') td")
    assert gap.startswith("yes, since 2014-08-09")
    shot(page, "report.png", doc=True)


def test_the_report_prints_without_controls_and_keeps_rows_whole(
    auditor_page: Any, story: Site
) -> None:
    page = auditor_page
    make_report_then(page, story)
    page.emulate_media(media="print")
    assert not page.locator("header.site").is_visible()
    assert not page.locator("form.report-controls").is_visible()
    assert not page.locator("footer.site").is_visible()
    assert page.locator(".signature").is_visible()
    assert (
        page.eval_on_selector(
            "#open-state-findings tbody tr", "r => getComputedStyle(r).breakInside"
        )
        == "avoid"
    )
    assert (
        page.eval_on_selector("#open-state-findings thead", "h => getComputedStyle(h).display")
        == "table-header-group"
    )


def test_the_report_prints_to_an_a4_pdf(auditor_page: Any, story: Site) -> None:
    page = auditor_page
    report = make_report_then(page, story)
    # No media emulation: page.pdf() prints as chromium's print does.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / "report.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True)
    text, reader = pdf_text(pdf)
    assert len(reader.pages) >= 2
    for p in reader.pages:  # A4 portrait, in points
        size = (float(p.mediabox.width), float(p.mediabox.height))
        assert abs(size[0] - 595.3) < 2 and abs(size[1] - 841.9) < 2, size
    for heading in SECTIONS:
        assert heading in text, heading
    assert "SUSPEND SUPPORT" in text
    assert "Auditor (name)" in text and "Signature" in text
    # Navigation and the form are not printed.
    for absent in ("Sign out", "Custody board", "Make the report", "Print this page"):
        assert absent not in text, absent
    # Keys and hashes may wrap across lines in the PDF's columns.
    flat = re.sub(r"\s+", "", text)
    assert report["reproducibility"]["log_head_hash"] in flat
    for f in report["restatements"] + report["open_state_findings"]:
        assert f["finding_key"] in flat, f["finding_key"]


def test_the_json_routes_html_report_still_renders(story: Site) -> None:
    server, keys = story
    answer = httpx.get(
        f"{server.base}/v1/contracts/fms-iq-m1/report",
        headers={"Authorization": f"Bearer {keys['auditor']}", "Accept": "text/html"},
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    for heading in ("Support", "Assets", "Open state findings", "Restatements", "Reproducibility"):
        assert f">{heading}<" in answer.text
    # A saved copy stands alone: its own style, no links back into the server.
    assert "<style>" in answer.text and "/ui/static" not in answer.text
    assert 'href="/ui/' not in answer.text


@pytest.mark.parametrize(
    "path",
    [
        "/ui/findings",
        f"/ui/findings?known_at={quote(KNOWN_THEN)}&cleared=any",
        f"/ui/findings/{MILITIA}",
        f"/ui/findings/{SUSPENSION}",
        "/ui/contracts",
        CONTRACT,
        REPORT,
        REPORT_THEN,
    ],
)
def test_the_new_pages_fit_a_phone_width_screen(browser: Any, story: Site, path: str) -> None:
    server, keys = story
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True)
    page = context.new_page()
    try:
        sign_in(page, server.base, keys["auditor"])
        answer = page.goto(f"{server.base}{path}")
        assert answer.status == 200
        width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= inner, f"{path}: {width} px wide in a {inner} px window"
        name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")[:60]
        shot(page, f"phone-{name}.png")
    finally:
        context.close()
