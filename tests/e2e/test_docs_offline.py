"""The interactive docs work without internet: a real browser (Debian's chromium driven by
Playwright) against a real ``ledger serve``, with every request that does not go to
127.0.0.1 blocked, renders the operations at ``/docs`` (Swagger UI) and ``/redoc``.

Outside CI these tests run wherever chromium is installed and say plainly when it is
not; with CI=true a missing browser fails the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import ROOT, Server, running_server

IN_CI = os.environ.get("CI", "").lower() == "true"
ARTIFACTS = ROOT / "test-artifacts" / "docs"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("docs"), LEDGER_ACCESS_LOG="false") as running:
        yield running


class Offline:
    """A browser page whose requests may reach 127.0.0.1 only; the rest are aborted and
    remembered."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))

    def _route(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(Path(ARTIFACTS / name)), full_page=False)


@pytest.fixture
def offline(browser: Any) -> Iterator[Offline]:
    o = Offline(browser)
    try:
        yield o
    finally:
        o.context.close()


def test_swagger_ui_renders_the_operations_with_no_request_leaving_the_machine(
    server: Server, offline: Offline
) -> None:
    page = offline.page
    page.goto(f"{server.base}/docs")
    append = page.locator(".opblock-post .opblock-summary-path[data-path='/v1/events']")
    append.wait_for(state="visible", timeout=20_000)
    assert page.locator(".opblock-get .opblock-summary-path[data-path='/v1/assets']").is_visible()
    assert page.locator(".opblock-tag-section").count() >= 5
    # The documented examples are there to pick, valid in order (tests/api/test_openapi_examples).
    append.click()
    examples = page.locator(".opblock-post.is-open .examples-select select").first
    examples.wait_for(state="visible", timeout=10_000)
    options = examples.locator("option").all_inner_texts()
    assert any("The seller registers itself" in o for o in options), options
    offline.shot("swagger-ui.png")
    assert offline.blocked == [], "the docs page asked for something beyond this machine"
    assert offline.failed == []
    assert offline.errors == []


def test_redoc_renders_the_operations_with_no_request_leaving_the_machine(
    server: Server, offline: Offline
) -> None:
    page = offline.page
    page.goto(f"{server.base}/redoc")
    heading = page.locator("h2", has_text="Append one event").first
    heading.wait_for(state="visible", timeout=20_000)
    page.locator("a[href='https://redocly.com/redoc/']").wait_for(state="attached")
    page.wait_for_timeout(500)  # the footer's logo is asked for once it has mounted
    offline.shot("redoc.png")
    # ReDoc's sidebar footer always asks for its logo from a CDN: the page's
    # Content-Security-Policy refuses that (the browser says so), and it is all it asks.
    refused = [e for e in offline.errors if "violates the following Content Security Policy" in e]
    assert refused == offline.errors, offline.errors
    assert all(any(url in e for e in refused) for url in offline.blocked), (
        offline.blocked,
        refused,
    )
    assert set(offline.blocked) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
