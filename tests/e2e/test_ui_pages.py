"""What a reader hit on the pages, checked in a real browser (Debian's chromium through
Playwright) against a real ``ledger serve`` process loaded with ``ledger demo``:

- a finding cleared by a retraction is drawn ending where it was cleared;
- a finding bar too short for its label is labelled beside it;
- on a phone the chart scrolls in its own box, says so, and its text stays readable;
- a date alone is read as the start of that day, UTC, and the page says so;
- placeholders fit their fields; no word is broken across lines; summaries, values and
  times read in one language; the report shows no microseconds and no "null";
- the printed report carries its contract and page numbers on every page and leaves no
  heading alone at a page foot.

The module has a server of its own: one test appends (a capture and its retraction).
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.conftest import Server, running_server
from tests.e2e.test_ui import ARTIFACTS, IN_CI, PHONE, WIDE, shot, sign_in

pytestmark = pytest.mark.slow


Site = tuple[Server, dict[str, str]]

CONTRACT = "/ui/contracts/fms-iq-m1"
REPORT = f"{CONTRACT}/report"
MIDDLE = {"width": 800, "height": 900}  # a tablet, or a half-screen window
# Printed A4 with the report's 14 mm margins: 182 mm of line, in CSS pixels.
A4_LINE = {"width": 688, "height": 1000}

# Every page a reader reaches from the navigation, with the demo's data.
PAGES = (
    "/ui",
    "/ui/assets",
    "/ui/assets/M1A1-002",
    "/ui/assets/M1A1-003",
    "/ui/findings",
    "/ui/findings?cleared=any",
    "/ui/findings/R12/demo-overhaul-start/M1A1-003",
    "/ui/findings/C01/fms-iq-m1/2014-07-10T06:00:00Z",
    "/ui/contracts",
    CONTRACT,
    REPORT,
    f"{REPORT}?as_of=2016-06-01&known_at=2016-06-01",
)

# Words (runs of letters, digits or "_") whose glyphs land on more than one line, in
# visible text outside identifiers (keys, hashes, ids, code), which may wrap anywhere.
BROKEN_WORDS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const word = /[\\p{L}\\p{N}_]{2,}/gu;
  let node;
  while ((node = walker.nextNode())) {
    const el = node.parentElement;
    if (!el || el.closest('.key, .hash, .id, code, svg, .visually-hidden')) continue;
    if (!el.getClientRects().length) continue;
    let m;
    while ((m = word.exec(node.textContent))) {
      const r = document.createRange();
      r.setStart(node, m.index);
      r.setEnd(node, m.index + m[0].length);
      const lines = new Set();
      for (const rect of r.getClientRects()) if (rect.width > 0) lines.add(Math.round(rect.top));
      if (lines.size > 1) out.push(m[0] + ' in ' + el.tagName.toLowerCase() + '.' + el.className);
    }
  }
  return out;
}"""

# Inputs whose placeholder is wider than the room inside them (measured in their font).
CUT_PLACEHOLDERS = """() => {
  const ctx = document.createElement('canvas').getContext('2d');
  const out = [];
  for (const el of document.querySelectorAll('input[placeholder]')) {
    if (!el.getClientRects().length) continue;
    const s = getComputedStyle(el);
    ctx.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
    const need = ctx.measureText(el.placeholder).width;
    const room = el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
    if (need > room) out.push(`${el.id}: "${el.placeholder}" needs ${need|0} px, has ${room|0}`);
  }
  return out;
}"""

# The smallest text in the chart as drawn: its font size times the chart's scale.
SMALLEST_CHART_TEXT = """() => {
  const svg = document.querySelector('svg.timeline');
  const k = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  return Math.min(...[...svg.querySelectorAll('text')]
    .map(t => parseFloat(getComputedStyle(t).fontSize) * k));
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_server(tmp_path_factory.mktemp("ui-pages"), LEDGER_ACCESS_LOG="false") as server:
        server.cli("demo")
        keys = {
            role: server.cli("keys", "create", "--name", f"pages-{role}", "--role", role)
            .strip()
            .splitlines()[-1]
            for role in ("investigator", "auditor", "importer")
        }
        yield server, keys


def new_page(browser: Any, site: Site, viewport: dict[str, int], role: str = "auditor") -> Any:
    server, keys = site
    context = browser.new_context(
        viewport=viewport, device_scale_factor=1, is_mobile=viewport["width"] < 500
    )
    p = context.new_page()
    sign_in(p, server.base, keys[role])
    return p


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    p = new_page(browser, site, WIDE)
    try:
        yield p
    finally:
        p.context.close()


def api(server: Server, key: str, path: str, **params: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{server.base}{path}", params=params, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def append(server: Server, key: str, body: dict[str, Any]) -> int:
    answer = httpx.post(
        f"{server.base}/v1/events", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["position"])


# -- the chart --------------------------------------------------------------------------------


def test_a_finding_cleared_by_a_retraction_ends_where_it_was_cleared(page: Any, site: Site) -> None:
    server, keys = site
    common = {
        "reporter": "us-dos",
        "source": {"kind": "test", "ref": "ui-pages"},
        "confidence": "confirmed",
        "asset_ids": ["M1A1-004"],
    }
    # A capture reported in 2016, retracted on 2016-06-01 (historical import times).
    append(
        server,
        keys["importer"],
        {
            **common,
            "event_id": "pages-capture",
            "type": "asset_captured",
            "occurred_at": "2016-03-01T00:00:00Z",
            "reported_at": "2016-03-02T00:00:00Z",
            "payload": {"captor_party": "isil", "circumstances": "overrun"},
        },
    )
    position = append(
        server,
        keys["importer"],
        {
            **common,
            "event_id": "pages-capture-retracted",
            "type": "event_retracted",
            "occurred_at": "2016-06-01T00:00:00Z",
            "reported_at": "2016-06-01T00:00:00Z",
            "payload": {"target_event_id": "pages-capture", "reason": "another tank"},
        },
    )
    key = "R01/M1A1-004/isil/2016-03-01T00:00:00Z"
    # The timeline waits for custody; the findings projection may come a moment later.
    deadline = time.monotonic() + 30
    while True:
        answer = httpx.get(
            f"{server.base}/v1/findings/{key}",
            params={"min_position": str(position)},
            headers={"Authorization": f"Bearer {keys['auditor']}"},
        )
        found = answer.json()
        if answer.status_code == 200 and found.get("cleared_at"):
            break
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.2)
    page.goto(f"{server.base}/ui/assets/M1A1-004")
    assert found["valid_to"] is None and found["clear_reason"] == "voided_trigger_retracted"
    assert found["cleared_at"].startswith("2016-06-01")
    mark = page.locator(f'svg.timeline a.finding-mark[data-finding="{key}"]')
    assert "cleared" in (mark.get_attribute("class") or "").split()
    # Its end says "cleared", not "still open": no arrow running on to today.
    assert mark.locator(".finding-void").count() == 1
    assert mark.locator(".finding-ongoing").count() == 0
    # And it ends on 2016-06-01, where it was cleared: placed by the axis's year ticks.
    ticks = [
        (datetime(int(label), 1, 1, tzinfo=UTC), x)
        for label, x in page.eval_on_selector_all(
            "svg.timeline text.tick-label",
            "ts => ts.map(t => [t.textContent, t.x.baseVal[0].value])",
        )
        if label.isdigit()
    ]
    (t0, x0), (t1, x1) = ticks[0], ticks[-1]
    cleared = datetime(2016, 6, 1, tzinfo=UTC)
    expected = x0 + (x1 - x0) * (cleared - t0) / (t1 - t0)
    bar = mark.locator("rect.finding-bar")
    end = float(bar.get_attribute("x") or 0) + float(bar.get_attribute("width") or 0)
    assert end == pytest.approx(expected, abs=3)
    plot_right = page.eval_on_selector(
        "svg.timeline rect.lane", "r => r.x.baseVal.value + r.width.baseVal.value"
    )
    assert end < plot_right - 50
    mark.scroll_into_view_if_needed()
    shot(page, "timeline-cleared-finding.png")


def test_every_finding_on_the_chart_is_labelled_and_no_labels_overlap(
    page: Any, site: Site
) -> None:
    server, _ = site
    for asset in ("M1A1-001", "M1A1-002", "M1A1-003", "M1A1-004"):
        page.goto(f"{server.base}/ui/assets/{asset}")
        marks = page.eval_on_selector_all(
            "svg.timeline a.finding-mark",
            """ms => ms.map(m => {
                const t = m.querySelector('text');
                const bar = m.querySelector('rect').getBBox();
                const box = t ? t.getBBox() : null;
                return [m.dataset.finding, t ? t.textContent : '', box && [box.x, box.y, box.width, box.height],
                        [bar.x, bar.width], t ? t.classList.contains('outside') : false];
            })""",
        )
        assert marks, asset
        for key, text, _, _, _ in marks:
            assert text.strip(), f"{asset}: {key} has no label"
            assert text.split()[0] == key.split("/")[0], (key, text)
        # Short bars: the label is beside the bar, not squeezed into it.
        for key, _, box, (bar_x, bar_w), outside in marks:
            if outside:
                assert box[0] >= bar_x + bar_w - 0.5 or box[0] + box[2] <= bar_x + 0.5, key
        # No two labels overlap.
        boxes = [(k, b) for k, _, b, _, _ in marks]
        for i, (ka, a) in enumerate(boxes):
            for kb, b in boxes[i + 1 :]:
                apart = (
                    a[0] + a[2] <= b[0] + 0.5
                    or b[0] + b[2] <= a[0] + 0.5
                    or a[1] + a[3] <= b[1] + 0.5
                    or b[1] + b[3] <= a[1] + 0.5
                )
                assert apart, f"{asset}: labels of {ka} and {kb} overlap"


def test_on_a_phone_the_chart_scrolls_in_its_box_says_so_and_stays_readable(
    browser: Any, site: Site
) -> None:
    server, _ = site
    p = new_page(browser, site, {"width": 375, "height": 812})
    try:
        p.goto(f"{server.base}/ui/assets/M1A1-002")
        width, inner = p.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= inner  # the page itself does not scroll sideways
        box = p.locator("figure.chart .scroll")
        scroll_width, client_width = box.evaluate("b => [b.scrollWidth, b.clientWidth]")
        assert scroll_width > client_width  # the chart does, in its own box
        hint = p.locator("figure.chart .scroll-hint")
        assert hint.is_visible() and "scroll it sideways" in hint.inner_text()
        assert box.get_attribute("tabindex") == "0"  # and a keyboard can scroll it
        assert p.evaluate(SMALLEST_CHART_TEXT) >= 11
        p.locator("figure.chart").scroll_into_view_if_needed()
        p.screenshot(path=str(ARTIFACTS / "phone-chart.png"))
        # It scrolls: the end of the axis comes into view.
        box.evaluate("b => b.scrollTo(b.scrollWidth, 0)")
        assert box.evaluate("b => b.scrollLeft") > 0
    finally:
        p.context.close()
    # On a wide screen the whole chart fits: no hint, nothing to scroll.
    wide = new_page(browser, site, WIDE)
    try:
        wide.goto(f"{server.base}/ui/assets/M1A1-002")
        assert not wide.locator("figure.chart .scroll-hint").is_visible()
        box = wide.locator("figure.chart .scroll")
        assert box.evaluate("b => b.scrollWidth <= b.clientWidth")
        assert wide.evaluate(SMALLEST_CHART_TEXT) >= 11
    finally:
        wide.context.close()


# -- reading the page's time ------------------------------------------------------------------


def test_a_date_alone_is_the_start_of_that_day_utc_and_the_page_says_so(
    page: Any, site: Site
) -> None:
    server, keys = site
    answer = page.goto(f"{server.base}/ui/assets/M1A1-002?as_of=2014-06-10&known_at=2016-06-01")
    assert answer.status == 200
    lede = page.inner_text(".lede")
    assert "as of 2014-06-10 00:00 UTC, the start of that day" in lede
    assert "as known at 2016-06-01 00:00 UTC, the start of that day" in lede
    assert page.input_value("#as_of") == "2014-06-10"  # shown back as typed
    assert "A date alone (2014-06-10) means 00:00 UTC, the start of that day" in page.inner_text(
        "form.when .hint"
    )
    # What the JSON says for that instant: before the capture at 06:00 that day.
    body = api(
        server,
        keys["auditor"],
        "/v1/assets/M1A1-002/timeline",
        as_of="2014-06-10T00:00:00Z",
        known_at="2016-06-01T00:00:00Z",
    )
    drawn = page.eval_on_selector_all(
        "svg.timeline g.band", "gs => gs.map(g => [g.dataset.custodian, g.dataset.mark])"
    )
    assert drawn == [[b["custodian"] or "", b["mark"]] for b in body["bands"]]
    assert [c for c, _ in drawn] == ["iq-9th-armd"]
    # The same on every page that reads a time.
    for path in (
        f"{CONTRACT}?as_of=2014-01-01",
        f"{REPORT}?as_of=2016-06-01&known_at=2016-06-01&from=2014-01-01&to=2015-01-01",
        "/ui/findings?active_at=2016-01-01&known_at=2016-06-01",
        "/ui/findings?detected_from=2017-01-01",
        "/ui/assets?as_of=2014-07-01",
        f"/ui/findings/{quote('C01/fms-iq-m1/2014-07-10T06:00:00Z')}?known_at=2016-06-01",
    ):
        assert page.goto(f"{server.base}{path}").status == 200, path
    findings = page.goto(f"{server.base}/ui/findings?active_at=2016-01-01")
    assert findings.status == 200
    listed = page.eval_on_selector_all("tr.finding-row", "rows => rows.map(r => r.dataset.finding)")
    expected = api(server, keys["auditor"], "/v1/findings", active_at="2016-01-01T00:00:00Z")
    assert listed == [f["finding_key"] for f in expected["findings"]]
    # Not a date: still a readable 422 naming the field.
    answer = page.goto(f"{server.base}/ui/assets/M1A1-002?as_of=2014-02-30")
    assert answer.status == 422 and "as_of" in page.inner_text(".problems")


@pytest.mark.parametrize("viewport", [PHONE, MIDDLE, WIDE], ids=["phone", "middle", "wide"])
def test_placeholders_fit_their_fields(browser: Any, site: Site, viewport: dict[str, int]) -> None:
    server, _ = site
    p = new_page(browser, site, viewport)
    try:
        for path in ("/ui", "/ui/assets", "/ui/assets/M1A1-002", "/ui/findings", CONTRACT, REPORT):
            p.goto(f"{server.base}{path}")
            p.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            assert p.evaluate(CUT_PLACEHOLDERS) == [], path
    finally:
        p.context.close()


# -- words ------------------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", [PHONE, MIDDLE, WIDE], ids=["phone", "middle", "wide"])
def test_no_word_is_broken_across_lines(browser: Any, site: Site, viewport: dict[str, int]) -> None:
    server, _ = site
    p = new_page(browser, site, viewport)
    try:
        for path in PAGES:
            p.goto(f"{server.base}{path}")
            assert p.evaluate(BROKEN_WORDS) == [], path
    finally:
        p.context.close()


def test_no_word_is_broken_across_lines_in_print(browser: Any, site: Site) -> None:
    server, _ = site
    p = new_page(browser, site, A4_LINE)
    try:
        p.emulate_media(media="print")
        for path in (*PAGES[2:], f"{REPORT}?as_of=2016-06-01&known_at=2016-06-01"):
            p.goto(f"{server.base}{path}")
            assert p.evaluate(BROKEN_WORDS) == [], path
    finally:
        p.context.close()


def visible_prose(p: Any) -> str:
    """The page's text without identifiers (keys, ids, code), which stay as stored, and
    without the examples of what to type (``kbd``)."""
    return str(
        p.evaluate(
            """() => {
            const main = document.querySelector('main').cloneNode(true);
            main.querySelectorAll('.key, .id, code, kbd, svg, input, select, .hash')
                .forEach(e => e.remove());
            return main.innerText;
        }"""
        )
    )


def test_summaries_values_and_times_read_in_one_language(page: Any, site: Site) -> None:
    server, keys = site
    iso = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
    enum = re.compile(
        r"\b(unauthorised_custodian|asset_captured|asset_recovered|repair_started|"
        r"repair_completed|field_maintenance|SUSPENSION_REQUIRED|UNAUTHORISED_CUSTODY|"
        r"IN_CUSTODY|voided_trigger_retracted)\b"
    )
    raw = api(server, keys["auditor"], "/v1/findings", cleared="any", limit="1000")
    # The ledger writes its summaries with ISO instants and enum values ...
    assert any(iso.search(f["summary"]) for f in raw["findings"])
    assert any(enum.search(f["summary"]) for f in raw["findings"])
    for path in PAGES[1:]:
        page.goto(f"{server.base}{path}")
        text = visible_prose(page)
        # ... the pages in the words and the time format of the rest of the page.
        assert not iso.search(text), (path, iso.search(text))
        assert not enum.search(text), (path, enum.search(text))
    page.goto(f"{server.base}/ui/findings")
    row = page.locator('tr.finding-row[data-finding="C02/fms-iq-m1/2014-07-10T06:00:00Z"]')
    assert "since 2014-07-10 06:00 UTC" in row.inner_text()
    assert "from 2014-08-09 06:00 UTC" in row.inner_text()
    page.goto(f"{server.base}/ui/findings/C01/fms-iq-m1/2014-07-10T06:00:00Z")
    assert "suspension required" in page.inner_text("dl.facts")


def test_the_report_shows_no_microseconds_and_says_open_or_no_dates_not_null(
    page: Any, site: Site
) -> None:
    server, keys = site
    report = api(server, keys["auditor"], "/v1/contracts/fms-iq-m1/report")
    assert re.search(r"\.\d+Z$", report["as_of"])  # "now" has microseconds in the JSON
    page.goto(f"{server.base}{REPORT}")
    text = page.inner_text("article.report")
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d", text), "microseconds shown"
    assert "null" not in text
    period = page.inner_text("#reproducibility tr:has-text('Period') td")
    assert period == "no dates: the whole history"
    assert "period no dates: the whole history" in page.inner_text(".doc-meta")
    assert "a date alone is 00:00:00 UTC, the start of that day" in text
    as_of = page.inner_text("#reproducibility tr:has-text('As of') td")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", as_of)
    # A state finding that has not ended: "open since".
    open_row = page.locator("#open-state-findings tr.finding-row").first
    assert "open since" in open_row.inner_text()
    # Support has been suspended for years: said so, with the date.
    verdict = page.inner_text("#verdict .verdict")
    assert verdict == "✗ SUSPEND SUPPORT — suspended since 2017-12-15", verdict
    # The standalone HTML of the JSON route reads the same.
    html = httpx.get(
        f"{server.base}/v1/contracts/fms-iq-m1/report?from=2014-01-01T00:00:00Z",
        headers={"Authorization": f"Bearer {keys['auditor']}", "Accept": "text/html"},
    ).text
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d", html) and "null" not in html
    assert "from 2014-01-01, open-ended" in html


# -- the printed report -------------------------------------------------------------------------


def pdf_pages(path: Any) -> list[list[str]]:
    try:
        from pypdf import PdfReader
    except ImportError:
        if IN_CI:
            pytest.fail("pypdf not installed (CI=true): .venv/bin/pip install -e '.[dev]'")
        pytest.skip("pypdf not installed: .venv/bin/pip install -e '.[dev]'")
    reader = PdfReader(str(path))
    return [
        [
            line.strip()
            for line in unicodedata.normalize("NFKC", p.extract_text()).splitlines()
            if line.strip()
        ]
        for p in reader.pages
    ]


def ends_with_note(lines: list[str], notes: set[str]) -> bool:
    """Whether a page's text ends with a section's note, whole or its start (a note
    that begins at the foot of a page and goes on over the leaf)."""
    tail = " ".join(" ".join(lines[-4:]).split())
    for note in notes:
        flat = " ".join(note.split())
        if any(tail.endswith(flat[:k]) for k in range(len(flat), 19, -1)):
            return True
    return False


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?as_of=2016-06-01&known_at=2016-06-01",
        "?as_of=2015-06-01&from=2014-01-01",
        "?known_at=2017-01-01",
    ],
    ids=["now", "then", "mid-2015", "known-2017"],
)
def test_the_printed_report_has_its_contract_and_page_number_on_every_page_and_no_stranded_heading(
    page: Any, site: Site, query: str
) -> None:
    server, _ = site
    page.goto(f"{server.base}{REPORT}{query}")
    headings = set(
        page.eval_on_selector_all("main h2, main h3", "hs => hs.map(h => h.innerText.trim())")
    )
    notes = set(
        page.eval_on_selector_all(
            "main .section-note, main .counts", "ps => ps.map(p => p.innerText.trim())"
        )
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / f"report-pages-{re.sub(r'[^a-z0-9]+', '-', query) or 'now'}.pdf"
    # chromium's own print path, with the page's CSS page size: no header or footer
    # template of the test's, so what is on every page is the report's own doing.
    page.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True)
    pages = pdf_pages(pdf)
    assert len(pages) >= 3
    footer = re.compile(r"Page (\d+) of (\d+)")
    table_head = re.compile(r"[A-Z]{2,}(?: [A-Z·]+)+")  # column names, set in capitals
    for number, lines in enumerate(pages, start=1):
        text = "\n".join(lines)
        assert f"Page {number} of {len(pages)}" in text, (number, lines[:3])
        assert "Contract report fms-iq-m1" in text, number
        if "as_of=2016-06-01&known_at=2016-06-01" in query:
            assert "as of 2016-06-01 · as known at 2016-06-01" in text
        body = [line for line in lines if not footer.search(line)]
        last = body[-1]
        assert last not in headings, f"page {number} ends with the heading {last!r}"
        assert not ends_with_note(body, notes), f"page {number} ends with a note: {body[-2:]!r}"
        assert not table_head.fullmatch(last), f"page {number} ends with a table head: {last!r}"
