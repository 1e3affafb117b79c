"""The README's demo and curl walk-through, run as written against a real server: a
newcomer who copies them gets exactly what they say — on an empty database, and on one
database in either order (the walk-through's ids are disjoint from the demo's)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from typing import Any

import httpx

from ledger.cli.demo import PAGES, demo_events
from tests.e2e.conftest import ROOT, Server

PROBLEM = "urn:custody-ledger:problem"


def _sh_block(after: str) -> str:
    """The first ``sh`` block of the README after the text ``after``."""
    text = (ROOT / "README.md").read_text()
    section = text.split(after, 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def walkthrough() -> str:
    return _sh_block("## A walk-through with curl")


def demo_block() -> str:
    return _sh_block("To see something at once")


def run_as_written(server: Server, script: str) -> subprocess.CompletedProcess[str]:
    """The shell block as a newcomer pastes it, only pointed at this test's server."""
    script = script.replace("localhost:8000", f"127.0.0.1:{server.port}").replace(
        ".venv/bin/ledger", f"{sys.executable} -m ledger.cli"
    )
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def responses(stdout: str) -> list[Any]:
    """Each JSON document curl printed, in order (curl -s adds no newline between)."""
    decoder = json.JSONDecoder()
    found, i = [], 0
    while i < len(stdout):
        if stdout[i].isspace():
            i += 1
            continue
        doc, i = decoder.raw_decode(stdout, i)
        found.append(doc)
    return found


def assert_walkthrough_worked(server: Server, out: subprocess.CompletedProcess[str]) -> None:
    assert out.returncode == 0, out.stderr
    assert PROBLEM not in out.stdout, out.stdout
    # A writer key made after its party is registered: no warning, nothing refused.
    assert "warning" not in out.stderr and "ledger:" not in out.stderr, out.stderr
    batch, d2, tr1, cap1, ret1, *_reads = responses(out.stdout)
    assert [r["event_id"] for r in batch["results"]][-1] == "d-1"
    assert [d2["event_id"], tr1["event_id"], cap1["event_id"], ret1["event_id"]] == [
        "d-2",
        "tr-1",
        "cap-1",
        "ret-1",
    ]
    assert all("position" in r for r in (d2, tr1, cap1, ret1))

    admin = server.cli("keys", "create", "--name", "checker", "--role", "admin").splitlines()[-1]
    headers = {"Authorization": f"Bearer {admin}"}
    deadline = time.monotonic() + 10
    while True:
        t1 = httpx.get(f"{server.base}/v1/assets/T-1", headers=headers).json()
        if t1.get("custodian") == "south-3rd" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert t1["custodian"] == "south-3rd", t1
    cap = httpx.get(f"{server.base}/v1/events/cap-1", headers=headers).json()
    assert cap["asset_ids"] == ["T-1", "T-2"]
    assert [r["event_id"] for r in cap["retracted_by"]] == ["ret-1"]


def assert_demo_worked(server: Server, out: subprocess.CompletedProcess[str]) -> None:
    assert out.returncode == 0, out.stderr
    assert f"{len(demo_events())} new events" in out.stdout, out.stdout
    links = [line.split()[0] for line in out.stdout.splitlines() if line.startswith("  http")]
    # The running server's real address, and pages a browser opens.
    assert links == [f"http://127.0.0.1:{server.port}{path}" for path, _ in PAGES]
    reader = server.cli("keys", "create", "--name", "reader", "--role", "auditor")
    headers = {"Authorization": f"Bearer {reader.splitlines()[-1]}"}
    for link in links:
        page = httpx.get(link, headers=headers, timeout=30)
        assert page.status_code == 200, (link, page.text[:500])
        assert page.headers["content-type"].startswith("text/html")
    board = httpx.get(f"{server.base}/v1/assets?contract=fms-iq-m1", headers=headers).json()
    assert sorted(a["asset_id"] for a in board["assets"]) == [
        "M1A1-001",
        "M1A1-002",
        "M1A1-003",
        "M1A1-004",
    ]


def test_the_readme_walkthrough_works_as_written(server: Server) -> None:
    assert_walkthrough_worked(server, run_as_written(server, walkthrough()))
    log = server.cli("keys", "list")
    assert log.splitlines()[0].split() == ["NAME", "ROLE", "PARTY", "CREATED", "STATE"]


def test_the_walkthrough_works_after_the_demo_on_the_same_database(server: Server) -> None:
    assert_demo_worked(server, run_as_written(server, demo_block()))
    assert_walkthrough_worked(server, run_as_written(server, walkthrough()))


def test_the_demo_works_after_the_walkthrough_on_the_same_database(server: Server) -> None:
    assert_walkthrough_worked(server, run_as_written(server, walkthrough()))
    assert_demo_worked(server, run_as_written(server, demo_block()))
    again = run_as_written(server, demo_block())
    assert again.returncode == 0, again.stderr
    assert "the demo was already loaded" in again.stdout


def test_the_readme_names_the_demo_and_the_walkthrough_ids_apart() -> None:
    """The promise that lets them share a database: no id of one is an id of the other."""
    script = walkthrough()
    demo_ids = set()
    for e in demo_events():
        demo_ids.add(e["event_id"])
        demo_ids.update(e.get("asset_ids", []))
        for key in ("party_id", "contract_id", "facility_id", "authorization_id", "serial"):
            if key in e["payload"]:
                demo_ids.add(e["payload"][key])
    quoted = set(re.findall(r'"([A-Za-z0-9._:-]+)"', script))
    assert demo_ids & quoted == set()
