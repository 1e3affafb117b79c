"""The web pages in a real browser (Debian's chromium driven by Playwright) against a
real ``ledger serve`` process loaded with ``ledger demo``.

Outside CI these tests run wherever chromium is installed and say plainly when it is
not; with CI=true a missing browser fails the run. Screenshots go to
``test-artifacts/ui/``; with LEDGER_UPDATE_SCREENSHOTS=1 the README's copies in
``docs/screenshots/`` are refreshed too (not on every run: they are tracked files).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ROOT, Server, running_server

IN_CI = os.environ.get("CI", "").lower() == "true"
ARTIFACTS = ROOT / "test-artifacts" / "ui"
DOC_SHOTS = ROOT / "docs" / "screenshots"
UPDATE_DOC_SHOTS = os.environ.get("LEDGER_UPDATE_SCREENSHOTS") == "1"
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMELINE = "/ui/assets/M1A1-002"
KNOWN_THEN = "2016-06-01T00:00:00Z"  # before the militia's recovery was reported (2017-02-01)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    """One server for the module, with the demo loaded and a key per role the tests
    need: the pages only read, so the tests can share it."""
    with running_server(tmp_path_factory.mktemp("ui"), LEDGER_ACCESS_LOG="false") as server:
        server.cli("demo")
        keys = {
            role: server.cli("keys", "create", "--name", f"ui-{role}", "--role", role)
            .strip()
            .splitlines()[-1]
            for role in ("investigator", "writer", "auditor")
        }
        yield server, keys


def shot(page: Any, name: str, doc: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    if doc and UPDATE_DOC_SHOTS:
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SHOTS / name)


def sign_in(page: Any, base: str, key: str, path: str = "/ui") -> None:
    page.goto(f"{base}{path}")
    page.wait_for_url(re.compile(r"/ui/sign-in"))
    page.fill("#key", key)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(re.compile(re.escape(base + path) + r"$"))


@pytest.fixture
def page(browser: Any, site: tuple[Server, dict[str, str]]) -> Iterator[Any]:
    server, keys = site
    context = browser.new_context(viewport=WIDE)
    p = context.new_page()
    sign_in(p, server.base, keys["investigator"])
    try:
        yield p
    finally:
        context.close()


def drawn_bands(page: Any) -> list[tuple[str, str, str]]:
    rows = page.eval_on_selector_all(
        "svg.timeline g.band",
        "els => els.map(e => [e.dataset.custodian, e.dataset.mark, e.dataset.style,"
        " e.querySelector('rect').x.baseVal.value])",
    )
    xs = [r[3] for r in rows]
    assert xs == sorted(xs), f"bands out of time order: {rows}"
    return [(r[0], r[1], r[2]) for r in rows]


def json_bands(server: Server, key: str, known_at: str | None = None) -> list[tuple[str, str]]:
    params = {"known_at": known_at} if known_at else {}
    body = httpx.get(
        f"{server.base}/v1/assets/M1A1-002/timeline",
        params=params,
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    return [(b["custodian"] or "", b["mark"]) for b in body["bands"]]


# -- signing in and out ---------------------------------------------------------------


def test_sign_in_refuses_a_wrong_key_and_a_key_that_may_not_read(
    browser: Any, site: tuple[Server, dict[str, str]]
) -> None:
    server, keys = site
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    try:
        page.goto(f"{server.base}{TIMELINE}")
        page.wait_for_url(re.compile(r"/ui/sign-in\?next=%2Fui%2Fassets%2FM1A1-002$"))
        shot(page, "sign-in.png")

        page.fill("#key", "lk_not-a-real-key")
        with page.expect_response(re.compile(r"/ui/sign-in$")) as answer:
            page.click("form.stack button[type=submit]")
        assert answer.value.status == 401
        assert "not known" in page.inner_text("#sign-in-error")
        # Only the sign-in form's own CSRF cookie: no session.
        assert [c["name"] for c in context.cookies()] == ["ledger_ui_csrf"]

        page.fill("#key", keys["writer"])
        with page.expect_response(re.compile(r"/ui/sign-in$")) as answer:
            page.click("form.stack button[type=submit]")
        assert answer.value.status == 403
        assert "writer key may not read" in page.inner_text("#sign-in-error")
        assert keys["writer"] not in page.content()  # a key is never echoed back
        assert [c["name"] for c in context.cookies()] == ["ledger_ui_csrf"]

        page.fill("#key", keys["investigator"])
        page.click("form.stack button[type=submit]")
        page.wait_for_url(f"{server.base}{TIMELINE}")  # back where the reader was going
        # One cookie: the signed session, which names the key and never holds it.
        (cookie,) = context.cookies()
        assert cookie["name"] == "ledger_ui_session"
        assert keys["investigator"][3:20] not in cookie["value"]
        assert cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Lax"
        assert cookie["path"] == "/ui"
        assert cookie["secure"] is False  # plain http here: Secure only over https
        assert page.evaluate("document.cookie") == ""  # invisible to scripts
    finally:
        context.close()


def test_sign_out_clears_the_cookie(page: Any, site: tuple[Server, dict[str, str]]) -> None:
    server, _ = site
    assert [c["name"] for c in page.context.cookies()] == ["ledger_ui_session"]
    page.click("header.site button:has-text('Sign out')")
    page.wait_for_url(re.compile(r"/ui/sign-in\?reason=signed-out$"))
    assert "You are signed out" in page.inner_text("main")
    # The session is gone; the sign-in form has set its own CSRF token.
    assert [c["name"] for c in page.context.cookies()] == ["ledger_ui_csrf"]
    page.goto(f"{server.base}/ui/assets")
    page.wait_for_url(re.compile(r"/ui/sign-in\?next=%2Fui%2Fassets$"))


def csrf_token(client: httpx.Client) -> str:
    """The sign-in form's CSRF token (its cookie set in ``client``)."""
    form = client.get("/ui/sign-in")
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert found, "the sign-in form carries no CSRF token"
    return found.group(1)


def test_sign_in_redirects_only_within_the_pages(site: tuple[Server, dict[str, str]]) -> None:
    server, keys = site
    with httpx.Client(base_url=server.base, follow_redirects=False) as client:
        for target, expected in [
            ("/ui/assets?status=LOST", "/ui/assets?status=LOST"),
            ("//evil.example/ui", "/ui"),
            ("https://evil.example/ui", "/ui"),
            ("/ui\\@evil.example", "/ui"),
            ("/v1/events", "/ui"),
        ]:
            answer = client.post(
                "/ui/sign-in",
                data={
                    "key": keys["investigator"],
                    "next": target,
                    "csrf_token": csrf_token(client),
                },
            )
            assert answer.status_code == 303, target
            assert answer.headers["location"] == expected, target
        # A form posted from another site is refused (login CSRF).
        client.cookies.clear()
        token = csrf_token(client)
        answer = client.post(
            "/ui/sign-in",
            data={"key": keys["investigator"], "csrf_token": token},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        assert answer.status_code == 403
        assert "ledger_ui_session" not in answer.headers.get("set-cookie", "")
        # ... and so is one without the form's token, as another site's would be.
        answer = client.post("/ui/sign-in", data={"key": keys["investigator"]})
        assert answer.status_code == 403
        assert "ledger_ui_session" not in answer.headers.get("set-cookie", "")
        client.cookies.clear()
        # "Cookie or key": a program holding a key may fetch a page with the header.
        answer = client.get(
            "/ui/assets", headers={"Authorization": f"Bearer {keys['investigator']}"}
        )
        assert answer.status_code == 200 and "text/html" in answer.headers["content-type"]
        assert answer.headers["cache-control"] == "no-store"
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        answer = client.get("/ui/assets", headers={"Authorization": f"Bearer {keys['writer']}"})
        assert answer.status_code == 403 and "may not read" in answer.text


# -- the asset timeline -----------------------------------------------------------------


def test_timeline_draws_the_custody_bands_of_the_captured_tank(
    page: Any, site: tuple[Server, dict[str, str]]
) -> None:
    server, keys = site
    # From the index's "open an asset" form.
    page.goto(f"{server.base}/ui")
    page.fill("#asset_id", "M1A1-002")
    page.click("form.inline button[type=submit]")
    page.wait_for_url(f"{server.base}{TIMELINE}")
    assert drawn_bands(page) == [
        ("iq-9th-armd", "authorised", "authorised"),
        ("isil", "unauthorised", "armed-group"),
        ("pmf-kh", "unauthorised", "unauthorised"),
    ]
    # The page shows what the JSON shows.
    assert [(c, m) for c, m, _ in drawn_bands(page)] == json_bands(server, keys["investigator"])
    # Told apart without colour: a text label per band, in the chart and in the table.
    # (a narrow band shows the custodian; its tooltip and the table say the rest).
    armed = page.locator("svg.timeline g.band-armed-group")
    assert armed.locator("text").text_content() == "isil"
    assert (armed.locator("title").text_content() or "").startswith(
        "isil · armed group, unauthorised: 2014-06-10 06:00 UTC – 2015-03-01"
    )
    assert "unauthorised · armed group" in page.inner_text("tr.band-row[data-custodian=isil]")
    assert page.eval_on_selector_all(
        "table.bands-table tr.band-row", "rows => rows.map(r => r.dataset.custodian)"
    ) == ["iq-9th-armd", "isil", "pmf-kh"]
    # Repairs have their own lane; the late recovery report shows its lag.
    assert page.locator("svg.timeline g.repair").count() == 1
    assert "besmaya-depot" in page.inner_text("#ev-demo-illegal-repair")
    assert "lag 1 y 338 d" in page.inner_text("#ev-demo-militia-recovers")
    # Related assets link to their own timelines.
    page.click("section[aria-labelledby=related-h] a:has-text('M1A1-001')")
    page.wait_for_url(re.compile(r"/ui/assets/M1A1-001$"))
    assert [b[2] for b in drawn_bands(page)] == ["authorised", "armed-group", "terminal"]
    page.go_back()
    page.wait_for_url(f"{server.base}{TIMELINE}")
    shot(page, "timeline.png", doc=True)


def test_known_at_before_the_late_report_drops_the_militia_band(
    page: Any, site: tuple[Server, dict[str, str]]
) -> None:
    server, keys = site
    page.goto(f"{server.base}{TIMELINE}")
    page.fill("#known_at", KNOWN_THEN)
    page.click("form.when button[type=submit]")
    page.wait_for_url(re.compile(r"known_at=2016-06-01T00%3A00%3A00Z"))
    assert drawn_bands(page) == [
        ("iq-9th-armd", "authorised", "authorised"),
        ("isil", "unauthorised", "armed-group"),
    ]
    assert [(c, m) for c, m, _ in drawn_bands(page)] == json_bands(
        server, keys["investigator"], KNOWN_THEN
    )
    assert page.locator("#ev-demo-militia-recovers").count() == 0
    assert page.locator("svg.timeline g.repair").count() == 0  # reported in 2017
    assert "Showing what the ledger knew at 2016-06-01" in page.inner_text(".known-then")
    assert page.input_value("#known_at") == KNOWN_THEN
    assert page.locator("svg.timeline g.known-at").count() == 1
    shot(page, "timeline-known-then.png", doc=True)
    # And back to all knowledge in one move.
    page.click(".known-then a")
    assert [b[0] for b in drawn_bands(page)] == ["iq-9th-armd", "isil", "pmf-kh"]


def test_the_retracted_sighting_is_struck_through(
    page: Any, site: tuple[Server, dict[str, str]]
) -> None:
    server, _ = site
    page.goto(f"{server.base}/ui/assets/M1A1-003")
    row = page.locator("#ev-demo-sighting-wrong")
    assert "retracted" in (row.get_attribute("class") or "").split()
    assert row.locator("del").count() >= 3
    decoration = row.locator("del").first.evaluate("e => getComputedStyle(e).textDecorationLine")
    assert "line-through" in decoration
    retraction = row.locator(".retraction").inner_text()
    assert "demo-sighting-retracted" in retraction and "misidentified: a T-72" in retraction
    assert page.locator("svg.timeline a.event.retracted").count() == 1
    # Other events are not struck through.
    assert page.locator("#ev-demo-overhaul-start del").count() == 0
    # The observation lane leaves out the retracted sighting, as the JSON does.
    assert page.locator("svg.timeline a.observation").count() == 0
    shot(page, "timeline-retracted.png")


# -- the custody board ------------------------------------------------------------------


def board_assets(page: Any) -> list[str]:
    return page.eval_on_selector_all("tr.asset-row", "rows => rows.map(r => r.dataset.asset)")


def apply_filters(page: Any, expect: str, **selects: str) -> None:
    for name, value in selects.items():
        page.select_option(f"#f-{name}", value)
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(expect))


def test_the_custody_board_filters(page: Any, site: tuple[Server, dict[str, str]]) -> None:
    server, _ = site
    page.goto(f"{server.base}/ui/assets")
    assert sorted(board_assets(page)) == ["M1A1-001", "M1A1-002", "M1A1-003", "M1A1-004"]
    groups = page.eval_on_selector_all(
        ".custodian-group",
        "gs => gs.map(g => [g.dataset.custodian, g.querySelectorAll('tr.asset-row').length])",
    )
    assert groups == [["iq-9th-armd", 2], ["pmf-kh", 1], ["", 1]]
    assert "3 accounted for" in page.inner_text(".summary")
    shot(page, "board.png", doc=True)

    apply_filters(page, r"accounted=false", accounted="false")
    assert board_assets(page) == ["M1A1-002"]
    assert "unauthorised custodian" in page.inner_text("tr[data-asset=M1A1-002]")

    apply_filters(page, r"custodian=iq-9th-armd", accounted="", custodian="iq-9th-armd")
    assert board_assets(page) == ["M1A1-003", "M1A1-004"]

    apply_filters(page, r"status=DESTROYED", custodian="", status="DESTROYED")
    assert board_assets(page) == ["M1A1-001"]

    apply_filters(page, r"contract=fms-iq-m1", status="", contract="fms-iq-m1")
    assert len(board_assets(page)) == 4

    # The board at a past knowledge time: before the capture was reported.
    page.goto(f"{server.base}/ui/assets?custodian=isil&known_at=2014-06-15T00:00:00Z")
    assert board_assets(page) == []
    page.goto(f"{server.base}/ui/assets?custodian=isil&as_of=2014-07-01T00:00:00Z")
    assert sorted(board_assets(page)) == ["M1A1-001", "M1A1-002"]
    # Each asset links to its timeline.
    page.click("tr[data-asset=M1A1-002] a")
    page.wait_for_url(re.compile(r"/ui/assets/M1A1-002\?as_of=2014-07-01"))
    assert [b[0] for b in drawn_bands(page)] == ["iq-9th-armd", "isil"]


# -- errors, escaping, small screens -----------------------------------------------------


def test_errors_are_readable_pages(page: Any, site: tuple[Server, dict[str, str]]) -> None:
    server, _ = site
    answer = page.goto(f"{server.base}/ui/assets/NO-SUCH-TANK")
    assert answer.status == 404
    assert page.inner_text("h1") == "Not found"
    assert "no asset 'NO-SUCH-TANK'" in page.inner_text("main")

    answer = page.goto(f"{server.base}{TIMELINE}?known_at=last-tuesday")
    assert answer.status == 422
    assert "known_at" in page.inner_text(".problems")

    answer = page.goto(f"{server.base}/ui/assets?accounted=maybe")
    assert answer.status == 422
    assert "accounted" in page.inner_text(".problems")

    answer = page.goto(f"{server.base}/ui/no-such-page")
    assert answer.status == 404
    assert "text/html" in answer.headers["content-type"]
    shot(page, "not-found.png")


def test_reported_text_is_shown_never_run(page: Any, site: tuple[Server, dict[str, str]]) -> None:
    server, keys = site
    hostile = (
        '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'
    )
    appended = httpx.post(
        f"{server.base}/v1/events",
        headers={"Authorization": f"Bearer {keys['writer']}"},
        json={
            "event_id": "ui-hostile-narrative",
            "type": "observation",
            "asset_ids": ["M1A1-004"],
            "occurred_at": "2016-02-01T00:00:00Z",
            "reporter": "us-dos",
            "source": {"kind": "test", "ref": "<b>ref</b>"},
            "confidence": "possible",
            "narrative": hostile,
            "payload": {
                "observed_party": "iq-9th-armd",
                "condition": "operational",
                "activity": "parked <i>at</i> depot",
            },
        },
    )
    assert appended.status_code == 201, appended.text
    position = appended.json()["position"]
    # Read-your-writes, as on the JSON API: the page waits for the projections.
    answer = page.goto(f"{server.base}/ui/assets/M1A1-004?min_position={position}")
    assert answer.status == 200
    assert int(answer.headers["x-ledger-position"]) >= position
    assert page.inner_text("#ev-ui-hostile-narrative .narrative") == hostile
    assert page.title() != "pwned"
    assert page.locator("#ev-ui-hostile-narrative img").count() == 0
    assert page.locator("svg.timeline a.observation").count() == 1
    assert "parked <i>at</i> depot" in page.inner_text("#ev-ui-hostile-narrative")


@pytest.mark.parametrize(
    "path",
    [
        "/ui",
        "/ui/assets",
        TIMELINE,
        f"{TIMELINE}?known_at={KNOWN_THEN}",
        "/ui/assets/M1A1-003",
        "/ui/no-such-page",
    ],
)
def test_pages_fit_a_phone_width_screen(
    browser: Any, site: tuple[Server, dict[str, str]], path: str
) -> None:
    server, keys = site
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True)
    page = context.new_page()
    try:
        sign_in(page, server.base, keys["investigator"])
        page.goto(f"{server.base}{path}")
        width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= inner, f"{path}: {width} px wide in a {inner} px window"
        name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "index"
        shot(page, f"phone-{name}.png")
    finally:
        context.close()


def test_the_sign_in_page_fits_a_phone_width_screen(
    browser: Any, site: tuple[Server, dict[str, str]]
) -> None:
    server, _ = site
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(f"{server.base}/ui/sign-in")
        width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= inner
        shot(page, "phone-sign-in.png")
    finally:
        context.close()
