"""The Alembic migrations of the ledger's schema (``ledger migrate``).

A package so the wheel installs it beside ``ledger``; ``ledger.store.migrate`` finds it
there (or here, in a checkout). Alembic itself loads ``env.py`` and ``versions/`` by
file path, so nothing imports this module.
"""
