"""End-to-end fixtures: a real ``ledger serve`` process on a fresh SQLite database."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    base: str
    port: int
    env: dict[str, str]

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "ledger.cli", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(tmp: Path, **extra_env: str) -> Iterator[Server]:
    """A real ``ledger serve`` process on a fresh SQLite database in ``tmp``."""
    url = f"sqlite:///{tmp}/ledger.db"
    upgrade(url)
    port = _free_port()
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": url,
        "LEDGER_PORT": str(port),
        "LEDGER_SIGNING_KEY_FILE": str(tmp / "signing-key.pem"),
        "LEDGER_PROJECTION_POLL_SECONDS": "0.1",
        "LEDGER_LOG_LEVEL": "warning",
        **extra_env,
    }
    proc = subprocess.Popen([sys.executable, "-m", "ledger.cli", "serve"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        yield Server(base, port, env)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path) as running:
        yield running


# --- the browser (Debian's chromium, driven by playwright) ---------------------------

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright not installed: .venv/bin/pip install -e '.[dev]'")
    executable = shutil.which("chromium")
    if executable is None:
        missing("chromium not installed: apt-get install chromium")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
