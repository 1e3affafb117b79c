"""With CI=true an unreachable PostgreSQL fails the run; it is never skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_with_unreachable_postgres(ci: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CI": ci,
        "LEDGER_TEST_POSTGRES_URL": "postgresql+psycopg://postgres@127.0.0.1:1/postgres",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/integration/test_migrations.py",
            "-k",
            "postgres",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unreachable_postgres_fails_in_ci() -> None:
    result = run_with_unreachable_postgres("true")
    assert result.returncode == 1, result.stdout
    assert "PostgreSQL unreachable in CI" in result.stdout
    assert "SKIPPED" not in result.stdout


def test_unreachable_postgres_is_reported_outside_ci() -> None:
    result = run_with_unreachable_postgres("false")
    assert result.returncode == 0, result.stdout
    assert "SKIPPED [1]" in result.stdout
    assert "PostgreSQL unreachable at" in result.stdout
