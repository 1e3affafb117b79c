"""Worlds to try the ledger on, as events in the wire form a client sends.

* ``wire`` — builders with sensible defaults, so a caller says only what matters to
  it: the tests and the benchmarks' one-day-dated stress world are made with them.
* ``realistic`` — a deterministic generator of a whole world at any scale (a unit
  hierarchy, contracts and authorisations that start and end, deliveries, inventories,
  transfers, captures, recoveries, repairs, sightings, contract actions, late reports,
  retractions and corrections), streamed in append order; ``append_world`` loads one
  into a ledger. docs/worlds.md describes it.
"""
