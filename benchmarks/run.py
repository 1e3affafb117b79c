"""``make bench``: run every benchmark section and write ``benchmarks/RESULTS.md``."""

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
SECTIONS = os.environ.get("LEDGER_BENCH_SECTIONS", "write,custody,findings,integrity").split(",")


def main() -> int:
    report: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "runs": RUNS,
    }
    for section in SECTIONS:
        module = __import__(f"benchmarks.bench_{section}", fromlist=["run"])
        print(f"== {section}", flush=True)
        module.run(report)
    (OUT.parent / "results.json").write_text(json.dumps(report, indent=2, default=str))
    OUT.write_text(render(report))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
