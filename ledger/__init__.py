"""The ledger application: use cases, persistence, projections, integrity and the CLI."""
