"""``make bench``: run every benchmark section and write ``benchmarks/RESULTS.md``.

``LEDGER_BENCH_SECTIONS=write,custody`` runs some sections only; with
``LEDGER_BENCH_MERGE=1`` their results replace those sections in the last
``results.json`` and the others are kept (each section records when it ran), so one
section can be measured again on a quieter machine without re-running the rest."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import RUNS, machine
from benchmarks.report import render

OUT = Path(__file__).resolve().parent / "RESULTS.md"
RAW = OUT.parent / "results.json"
SECTIONS = os.environ.get("LEDGER_BENCH_SECTIONS", "write,custody,findings,integrity").split(",")
NOTES = OUT.parent / "NOTES.md"


def main() -> int:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report: dict[str, Any] = {"date": now, "machine": machine(), "runs": RUNS, "measured": {}}
    if os.environ.get("LEDGER_BENCH_MERGE") and RAW.exists():
        report = json.loads(RAW.read_text())
        report.setdefault("measured", {})
        report["date"] = now
    for section in SECTIONS:
        module = __import__(f"benchmarks.bench_{section}", fromlist=["run"])
        print(f"== {section}", flush=True)
        try:
            module.run(report)
            report["measured"][section] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        except BaseException:
            at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            report["measured"][section] = f"{at}, failed: its numbers are partial"
            raise
        finally:
            # Written after every section, and when one fails: what it measured
            # before failing is kept, and a later section that fails loses only itself.
            _write(report)
    print(f"wrote {OUT}")
    return 0


def _write(report: dict[str, Any]) -> None:
    if NOTES.exists():
        report["notes"] = NOTES.read_text().splitlines()
    RAW.write_text(json.dumps(report, indent=2, default=str))
    OUT.write_text(render(report))


if __name__ == "__main__":
    sys.exit(main())
