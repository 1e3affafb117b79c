"""Group commit: concurrent appends share one transaction.

The event store serialises writers (PostgreSQL locks the events table per append,
SQLite has one writer), so a transaction per request caps throughput at one commit
round trip per event. Requests instead queue here; one thread drains whatever is
waiting — up to ``max_events`` — and hands the group to the ledger, which validates
each request on its own, stores the valid ones in one transaction, and falls back to
one transaction per request if that shared transaction fails. While a group commits,
the next one gathers, so latency under light load is one commit, and under heavy
load the cost of a commit is spread over many requests.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Pending:
    payload: Any
    size: int
    future: Future[Any] = field(default_factory=Future)


class GroupCommitter:
    def __init__(
        self, process: Callable[[list[Pending]], None], max_events: int, name: str = "ledger-commit"
    ) -> None:
        self._process = process
        self._max_events = max_events
        self._queue: queue.Queue[Pending | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._closed = False
        self._thread.start()

    def submit(self, payload: Any, size: int) -> Future[Any]:
        """Queue one request; the future carries its outcome (or its exception)."""
        if self._closed:
            raise RuntimeError("the ledger is closed")
        pending = Pending(payload, size)
        self._queue.put(pending)
        return pending.future

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            total = first.size
            stop = False
            while total < self._max_events:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
                total += nxt.size
            try:
                self._process(group)
            except BaseException as e:  # never leave a caller waiting
                log.exception("group commit failed")
                for p in group:
                    if not p.future.done():
                        p.future.set_exception(e)
            if stop:
                return
