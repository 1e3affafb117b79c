"""Worlds to try the ledger on: builders for events in the wire form a client sends
(``wire``), used by the tests, the benchmarks and anyone scripting a ledger."""
