"""The ``ledger`` command-line tool (SPEC.md §6): ``main`` parses and dispatches;
``demo`` appends the worked example."""

from ledger.cli.commands import main

__all__ = ["main"]
