"""The ledger's own exceptions. Each carries its meaning; ``api.errors`` maps them to
HTTP problems in one table, so an expected outcome is never a 500."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import eventsourcing.persistence
import psycopg
import sqlalchemy.exc


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


class LedgerError(Exception):
    """Base: ``problems`` name each offending field."""

    title = "Ledger error"

    def __init__(self, detail: str, problems: list[Problem] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems or []


class InvalidEventError(LedgerError):
    """Malformed or impossible input (schema, times, unknown references): 422."""

    title = "Invalid event"


class DuplicateError(LedgerError):
    """A registration of something that exists, or an event id reused differently: 409."""

    title = "Conflict"


class VersionConflict(LedgerError):
    """``expected_version`` did not match: 409."""

    title = "Version conflict"


class ForbiddenError(LedgerError):
    """A known key acting beyond its role or party: 403."""

    title = "Forbidden"


class NotFoundError(LedgerError):
    title = "Not found"


class UnauthenticatedError(LedgerError):
    title = "Unauthenticated"


class NotReadyError(LedgerError):
    """Projections have not caught up with a requested position in time: 503."""

    title = "Not ready"

    def __init__(self, detail: str, lag: int = 0) -> None:
        super().__init__(detail)
        self.lag = lag


@dataclass
class BatchProblems:
    """Problems keyed by the index of the event in a batch."""

    by_index: dict[int, list[Problem]] = field(default_factory=dict)


DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.TimeoutError,
    eventsourcing.persistence.OperationalError,
    psycopg.OperationalError,
    sqlite3.OperationalError,
)
"""The errors of a database that cannot answer now (connection refused or lost, pool
exhausted, ``database is locked``): not the client's fault nor a bug, so the edge
answers 503 with ``Retry-After``. SQLAlchemy wraps the drivers' errors for projections
and reads, eventsourcing for the event store; a raw driver error can surface from
either."""
