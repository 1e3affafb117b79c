"""The event builders the tests use: ``ledger.worlds.wire`` (shared with the
benchmarks), re-exported under the name every test imports."""

from ledger.worlds.wire import (
    T0,
    asset,
    authorization,
    capture,
    contract,
    correction,
    event,
    facility,
    inventory,
    party,
    reference_world,
    retraction,
    transfer,
)

__all__ = [
    "T0",
    "asset",
    "authorization",
    "capture",
    "contract",
    "correction",
    "event",
    "facility",
    "inventory",
    "party",
    "reference_world",
    "retraction",
    "transfer",
]
