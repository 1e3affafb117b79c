"""Projections: read models rebuilt from the log alone, each applying every event
exactly once (its tracking position is written in the same transaction as its rows)."""
