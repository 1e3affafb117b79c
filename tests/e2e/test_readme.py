"""The README's curl walk-through, run as written against a real server: a newcomer
who copies it gets exactly what it says."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import ROOT, Server


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## A walk-through with curl", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def test_the_readme_walkthrough_works_as_written(server: Server, tmp_path: Path) -> None:
    script = (
        walkthrough()
        .replace("localhost:8000", f"127.0.0.1:{server.port}")
        .replace(".venv/bin/ledger", f"{sys.executable} -m ledger.cli")
    )
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "urn:custody-ledger:problem" not in out.stdout, out.stdout
    assert out.stdout.count('"position"') >= 4

    admin = server.cli("keys", "create", "--name", "checker", "--role", "admin").splitlines()[-1]
    headers = {"Authorization": f"Bearer {admin}"}
    deadline = time.monotonic() + 10
    while True:
        t1 = httpx.get(f"{server.base}/v1/assets/T-1", headers=headers).json()
        if t1.get("custodian") == "iq-9th" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert t1["custodian"] == "iq-9th", t1
    log = httpx.get(f"{server.base}/v1/events?after=0", headers=headers).json()
    assert [e["event_id"] for e in log["events"]][-4:] == ["d-2", "tr-1", "cap-1", "ret-1"]
    cap = httpx.get(f"{server.base}/v1/events/cap-1", headers=headers).json()
    assert cap["asset_ids"] == ["T-1", "T-2"]
    assert [r["event_id"] for r in cap["retracted_by"]] == ["ret-1"]
