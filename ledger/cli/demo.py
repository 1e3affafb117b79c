"""``ledger demo``: a small worked example from the motivating story.

Four tanks are sold under a contract that requires each to be accounted for. Two are
captured by an armed group in June 2014; an airstrike destroys one; a militia recovers
the other in 2015, which the ledger learns only in 2017 (a late report); the militia
gets it repaired at an army depot without authorisation; a third tank is overhauled
abroad at an authorised facility; a mistaken sighting is retracted; support is
suspended in December 2017 while tanks remain unaccounted for. Event ids are fixed,
so loading twice stores nothing new.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from domain.vocabulary import Role
from ledger.bootstrap import Ledger
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER

# The story as NDJSON, one event per line in append order: the same shape
# ``ledger import`` reads, so the file can also be loaded or edited on its own.
STORY = "demo_story.ndjson"


def demo_events() -> list[dict[str, Any]]:
    """The demo's events, in the order they are appended."""
    text = resources.files("ledger.cli").joinpath(STORY).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_demo(ledger: Ledger) -> str:
    events = [EVENT_ADAPTER.validate_python(e) for e in demo_events()]
    results = ledger.appender.append(events, Principal("demo-loader", Role.ADMIN))
    ledger.runner.catch_up()
    fresh = sum(not r.replayed for r in results)
    base = f"http://{ledger.settings.host}:{ledger.settings.port}"
    return "\n".join(
        [
            f"demo loaded: {fresh} new events ({len(results) - fresh} already there), "
            f"log head at position {max(r.position for r in results)}",
            "look at (with an investigator or admin key):",
            f"  {base}/v1/assets?contract=fms-iq-m1                      custody board",
            f"  {base}/v1/assets/M1A1-002/timeline                       captured, recovered, repaired",
            f"  {base}/v1/assets/M1A1-002?known_at=2016-01-01T00:00:00Z  what the ledger knew in 2016",
            f"  {base}/v1/contracts/fms-iq-m1                            terms and authorisations",
        ]
    )
