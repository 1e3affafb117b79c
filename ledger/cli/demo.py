"""``ledger demo``: a small worked example from the motivating story.

Four tanks are sold under a contract that requires each to be accounted for. Two are
captured by an armed group in June 2014; an airstrike destroys one; a militia recovers
the other in 2015, which the ledger learns only in 2017 (a late report); the militia
gets it repaired at an army depot without authorisation; a third tank is overhauled
abroad at an authorised facility; a mistaken sighting is retracted; support is
suspended in December 2017 while tanks remain unaccounted for. Event ids are fixed,
so loading twice stores nothing new.

The demo needs no empty database: it shares one with anything whose ids differ from
its own (every event id starts ``demo-``; the parties, facilities, contract
``fms-iq-m1`` and tanks ``M1A1-001``…``004`` are the story's). The README's curl
walk-through uses ids of its own, so the two load in either order. If the database
already registers one of the story's parties, contract or tanks under another event,
nothing is stored and :class:`DemoConflictError` names what is in the way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from domain.vocabulary import Role
from ledger.bootstrap import Ledger
from ledger.errors import DuplicateError
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER

# The story as NDJSON, one event per line in append order: the same shape
# ``ledger import`` reads, so the file can also be loaded or edited on its own.
STORY = "demo_story.ndjson"

# The pages worth opening first, with what each shows.
PAGES = (
    ("/ui/assets?contract=fms-iq-m1", "custody board: who holds each tank, accounted for or not"),
    ("/ui/assets/M1A1-002", "one tank's timeline: captured, recovered by a militia, repaired"),
    (
        "/ui/assets/M1A1-002?known_at=2016-06-01T00:00:00Z",
        "the same timeline as the ledger knew it on 2016-06-01",
    ),
    ("/ui/findings?contract=fms-iq-m1", "the findings: what the rules flag, with evidence"),
    ("/ui/contracts/fms-iq-m1", "the contract: terms, authorisations, must support stop?"),
    ("/ui/contracts/fms-iq-m1/report", "the auditor's report, printable (auditor or admin key)"),
)


@dataclass(frozen=True)
class DemoLoaded:
    """What one ``load_demo`` stored: ``fresh`` new events, ``replayed`` already there."""

    fresh: int
    replayed: int
    head: int


class DemoConflictError(Exception):
    """The database already registers some of the story's ids under other events."""


def demo_events() -> list[dict[str, Any]]:
    """The demo's events, in the order they are appended."""
    text = resources.files("ledger.cli").joinpath(STORY).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_demo(ledger: Ledger) -> DemoLoaded:
    raw = demo_events()
    events = [EVENT_ADAPTER.validate_python(e) for e in raw]
    try:
        results = ledger.appender.append(events, Principal("demo-loader", Role.ADMIN))
    except DuplicateError as e:
        raise DemoConflictError(_conflict_text(e, raw)) from None
    ledger.runner.catch_up()
    fresh = sum(not r.replayed for r in results)
    return DemoLoaded(fresh, len(results) - fresh, ledger.lookups.head()[0])


def _conflict_text(error: DuplicateError, raw: list[dict[str, Any]]) -> str:
    """Each conflict with the demo event it comes from, e.g. ``demo-party-us-dos
    (payload.party_id): party is already registered``."""

    def named(field: str) -> str:
        m = re.fullmatch(r"events\[(\d+)\]\.(.*)", field)
        if m is None or int(m.group(1)) >= len(raw):
            return field
        return f"{raw[int(m.group(1))]['event_id']} ({m.group(2)})"

    shown = [f"{named(p.field)}: {p.message}" for p in error.problems[:5]]
    more = len(error.problems) - len(shown)
    return (
        "cannot load the worked example, nothing was stored: this database already holds "
        "some of its ids under other events — "
        + "; ".join(shown or [error.detail])
        + (f"; and {more} more" if more > 0 else "")
        + ". Load the demo into a database of its own, e.g. "
        "`LEDGER_DATABASE_URL=sqlite:///demo/ledger.db ledger migrate && "
        "LEDGER_DATABASE_URL=sqlite:///demo/ledger.db ledger demo`"
    )


def browser_base(host: str, port: int) -> str:
    """The address a browser on this machine reaches ``ledger serve --host HOST`` at:
    a server listening on every interface is reached on the loopback one."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def summary(loaded: DemoLoaded, base: str, database: str, prog: str = "ledger") -> str:
    """What ``ledger demo`` prints: what it stored, and the pages to open."""
    if loaded.fresh:
        stored = f"demo loaded into {database}: {loaded.fresh} new events"
        if loaded.replayed:
            stored += f" ({loaded.replayed} were already there)"
    else:
        stored = f"the demo was already loaded into {database}: nothing new stored"
    width = max(len(base + path) for path, _ in PAGES)
    return "\n".join(
        [
            f"{stored}; log head at position {loaded.head}",
            "",
            f"Open these pages in a browser while `{prog} serve` runs at {base}:",
            *(f"  {(base + path).ljust(width)}  {what}" for path, what in PAGES),
            "",
            "Sign in with an investigator, auditor or admin key (one you made will do),",
            "or make one:",
            f"  {prog} keys create --name reader --role auditor",
        ]
    )
