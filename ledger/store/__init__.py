"""Persistence: the event store's recorders, the table definitions Alembic owns, and
the read-side queries over the log."""
