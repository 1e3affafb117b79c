"""``ledger import FILE.ndjson``: bulk append of events from earlier records.

One event per line, in the wire form of ``POST /v1/events``. Lines are validated as
they are read and appended in batches through the same use case as the API (group
commit, all checks), each batch atomically, recorded by ``import`` with the admin
role — whoever runs the command already holds the database, and a migration carries
reference data too; a historical ``reported_at`` is kept. The first bad line stops the import with its line number and
the field at fault; batches before it stay stored (each was valid and atomic), and
re-running the same file is safe because every event's ``event_id`` makes a retry a
replay — so an event without an ``event_id`` is refused here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from domain.vocabulary import Role
from ledger.errors import LedgerError, Problem
from ledger.writing.append import Appender
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER, EventBase


@dataclass
class ImportSummary:
    lines: int = 0
    stored: int = 0
    replayed: int = 0


class ImportLineError(LedgerError):
    """A line of the file is unusable; ``line`` is 1-based."""

    title = "Import stopped"

    def __init__(self, line: int, detail: str, problems: list[Problem]) -> None:
        super().__init__(f"line {line}: {detail}", problems)
        self.line = line


def _parse(lines: Iterable[bytes]) -> Iterator[tuple[int, EventBase]]:
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            event: EventBase = EVENT_ADAPTER.validate_python(orjson.loads(raw))
        except orjson.JSONDecodeError as e:
            raise ImportLineError(
                number, f"not JSON ({e})", [Problem("line", "not JSON")]
            ) from None
        except ValidationError as e:
            first = e.errors()[0]
            field = ".".join(str(p) for p in first["loc"][1:]) or "type"
            raise ImportLineError(
                number, f"{field}: {first['msg']}", [Problem(field, first["msg"])]
            ) from None
        if event.event_id is None:
            raise ImportLineError(
                number,
                "event_id is required in an import (it makes a re-run safe)",
                [Problem("event_id", "required")],
            )
        yield number, event


def import_events(
    appender: Appender,
    lines: Iterable[bytes],
    *,
    batch_size: int = 1000,
    principal: Principal | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    who = principal or Principal("import", Role.ADMIN)
    summary = ImportSummary()
    batch: list[tuple[int, EventBase]] = []

    def flush() -> None:
        if not batch:
            return
        try:
            results = appender.append([e for _, e in batch], who)
        except LedgerError as e:
            first = e.problems[0] if e.problems else Problem("event", e.detail)
            index = (
                int(first.field.split("]")[0].removeprefix("events["))
                if first.field.startswith("events[")
                else 0
            )
            line = batch[index][0]
            field = first.field.split("].", 1)[-1]
            raise ImportLineError(
                line, f"{field}: {first.message}", [Problem(field, first.message)]
            ) from None
        summary.stored += sum(not r.replayed for r in results)
        summary.replayed += sum(r.replayed for r in results)
        if progress:
            progress(len(batch))
        batch.clear()

    for number, event in _parse(lines):
        summary.lines = number
        batch.append((number, event))
        if len(batch) >= batch_size:
            flush()
    flush()
    return summary
