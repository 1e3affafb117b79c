"""Pure facts and rules of the custody ledger: vocabulary, events, the state fold and
the rule catalogue. Nothing here performs I/O; it imports only the standard library
and ``eventsourcing.domain``."""
