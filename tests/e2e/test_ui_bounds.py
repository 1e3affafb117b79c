"""The pages stay bounded however large the ledger: a generated world of 10,000 assets
under one contract, all moved by one event to a custodian the contract does not
authorise (so every list of the contract's pages is 10,000 long: assets, assets
holding support back, open findings, inventory), read through the app.

Before windows (``api.ui.paging``) the report page of such a contract was 15.9 MB of
HTML and the page of one asset sharing an event with 9,999 others 932 KB. Built once
for the module on SQLite, through the batch append of the JSON API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.reports import PRINTED_ROWS
from api.ui.paging import ROWS, Paging
from ledger.bootstrap import Ledger, build_ledger
from ledger.settings import Settings
from ledger.store.migrate import upgrade
from tests import wire

pytestmark = pytest.mark.slow

ASSETS = 10_000
IDS = [f"big-{i:05d}" for i in range(ASSETS)]
REPORT = "/ui/contracts/fms-1/report"


class World:
    def __init__(self, client: TestClient, ledger: Ledger, key: str) -> None:
        self.client = client
        self.ledger = ledger
        self.headers = {"Authorization": f"Bearer {key}"}

    def get(self, path: str, **headers: str) -> Any:
        answer = self.client.get(path, headers={**self.headers, **headers})
        assert answer.status_code == 200, (path, answer.text[:500])
        return answer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp("big-world")
    url = f"sqlite:///{folder}/ledger.db"
    upgrade(url)
    ledger = build_ledger(
        Settings(database_url=url, signing_key_file=folder / "signing-key.pem", key_cache_seconds=0)
    )
    try:
        with TestClient(create_app(ledger=ledger), raise_server_exceptions=False) as client:
            admin = {"Authorization": f"Bearer {ledger.keys.create('big-admin', 'admin')}"}

            def batch(events: list[dict[str, Any]]) -> None:
                answer = client.post("/v1/events:batch", json={"events": events}, headers=admin)
                assert answer.status_code == 201, answer.text[:500]

            batch(wire.reference_world())
            for start in range(0, ASSETS, 1000):
                batch([wire.asset(a) for a in IDS[start : start + 1000]])
            # One event naming every asset: each asset page has 9,999 co-assets.
            batch(
                [
                    wire.transfer(
                        IDS,
                        "iq-army",
                        "pmf",
                        event_id="big-move",
                        occurred_at="2014-02-01T00:00:00Z",
                    )
                ]
            )
            ledger.runner.catch_up()
            yield World(client, ledger, ledger.keys.create("big-auditor", "auditor"))
    finally:
        ledger.close()


def rows(html: str, attr: str = "data-asset") -> int:
    return len(re.findall(rf"<tr[^>]* {attr}=", html))


def test_the_report_of_10000_assets_is_a_window_of_each_list(world: World) -> None:
    page = world.get(REPORT).text
    assert len(page.encode()) < 800_000, f"{len(page.encode())} bytes"
    section = page[page.index('id="assets"') : page.index('id="open-state-findings"')]
    assert rows(section) == ROWS
    assert f"Assets 1–{ROWS} of {ASSETS}." in section
    assert "Findings 1–200 of" in page and "of 10000" in page  # the open findings too
    # The next window of the assets, the other lists left where they were.
    found = re.search(r'<a class="rows-next" rel="next" href="([^"]+assets_from=200[^"]*)"', page)
    assert found, "no link to the next assets"
    second = world.get(found.group(1).replace("&amp;", "&")).text
    section = second[second.index('id="assets"') : second.index('id="open-state-findings"')]
    assert f"Assets {ROWS + 1}–{2 * ROWS} of {ASSETS}." in section
    first_ids = re.findall(r'<tr[^>]* data-asset="([^"]+)"', page[page.index('id="assets"') :])
    second_ids = re.findall(r'<tr[^>]* data-asset="([^"]+)"', section)
    assert not set(first_ids[:ROWS]) & set(second_ids)
    assert 'rel="prev"' in section
    # The last window ends the list.
    last = world.get(f"{REPORT}?assets_from={ASSETS - 1}").text
    assert f"Assets {ASSETS - ROWS + 1}–{ASSETS} of {ASSETS}." in last
    assert 'class="rows-next"' not in last[last.index('id="assets"') :].split("</section>")[0]


def test_the_standalone_report_of_10000_assets_is_bounded_and_says_where_the_rest_is(
    world: World,
) -> None:
    html = world.get("/v1/contracts/fms-1/report", Accept="text/html").text
    assert len(html.encode()) < 800_000, f"{len(html.encode())} bytes"
    shown = re.search(rf"Rows 1–{PRINTED_ROWS} of each long list \(the longest has (\d+)\)", html)
    assert shown and int(shown.group(1)) >= ASSETS
    assert 'href="/ui/' not in html  # a saved copy: no links back into the server
    nxt = re.search(r'rel="next" href="([^"]+)"', html)
    assert nxt, "no link to the next page"
    more = world.get(nxt.group(1).replace("&amp;", "&"), Accept="text/html").text
    assert f"Rows {PRINTED_ROWS + 1}–{2 * PRINTED_ROWS} of each long list" in more


def test_an_asset_sharing_an_event_with_9999_others_is_one_small_page(world: World) -> None:
    page = world.get("/ui/assets/big-00005").text
    assert len(page.encode()) < 100_000, f"{len(page.encode())} bytes"
    row = page[page.index('id="ev-big-move"') :]
    row = row[: row.index("</tr>")]
    assert f"{ASSETS} assets: big-00005" in row
    assert f"and {ASSETS - 1 - 12} more" in row
    related = page[page.index('id="related-h"') :]
    assert f"{ASSETS - 1} assets sharing an event with big-00005" in related
    assert len(re.findall(r"<li><a href=\"/ui/assets/", related)) == ROWS
    assert f"Assets 1–{ROWS} of {ASSETS - 1}." in related
    nxt = re.search(r'rel="next" href="([^"]+related_from=200#related-h)"', related)
    assert nxt, "no link to the next related assets"
    more = world.get(nxt.group(1).replace("&amp;", "&")).text
    assert f"Assets {ROWS + 1}–{2 * ROWS} of {ASSETS - 1}." in more


def test_the_contract_and_its_findings_of_10000_assets_are_bounded(world: World) -> None:
    page = world.get("/ui/contracts/fms-1").text
    assert len(page.encode()) < 200_000, f"{len(page.encode())} bytes"
    assert rows(page[page.index('id="held-h"') :]) == ROWS
    assert f"Assets 1–{ROWS} of {ASSETS}." in page
    found = world.get("/v1/findings?rule=C01&contract=fms-1").json()["findings"]
    assert found, "the world should require a suspension"
    finding = world.get(f"/ui/findings/{found[0]['finding_key']}").text
    assert len(finding.encode()) < 200_000, f"{len(finding.encode())} bytes"
    assert "big-move" in finding and "more</small>" in finding


def test_windows_keep_the_pages_other_parameters_and_read_odd_offsets_as_the_start() -> None:
    paging = Paging.of(
        "/ui/x", [("as_of", "2016-06-01"), ("held_from", "400"), ("assets_from", "-5")]
    )
    items = list(range(1000))
    assets = paging.window("assets", items, "assets-h")
    assert (assets.first, assets.last, assets.total) == (1, ROWS, 1000)
    assert assets.prev_href is None
    assert assets.next_href == "/ui/x?as_of=2016-06-01&held_from=400&assets_from=200#assets-h"
    held = paging.window("held", items)
    assert (held.first, held.last) == (401, 600)
    assert held.prev_href == "/ui/x?as_of=2016-06-01&assets_from=-5&held_from=200"
    # An offset inside a window starts at that window; past the end, the last window.
    assert Paging.of("/ui/x", [("a_from", "250")]).window("a", items).first == 201
    assert Paging.of("/ui/x", [("a_from", "99999")]).window("a", items).first == 801
    # Without a path (a saved document): no links, and a short list is whole.
    plain = Paging().window("a", items)
    assert plain.next_href is None and plain.partial and plain.left_out == 1000 - ROWS
    assert not Paging().window("a", items[:5]).partial
