"""Following the log in a thread of its own: do the work, then wait to be woken (or
for the poll interval), and outlive database outages. The projection runner and the
timeline warmer both follow the log this way.

eventsourcing's own ProjectionRunner stops on a database error; a ledger worker must
not: a dropped connection or a restarted server is logged, ``on_database_error`` runs
(the runner resets its pool), and the work is retried with backoff up to 5 s. Any other
error is logged with its traceback and retried after a second."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
import sqlalchemy as sa

log = logging.getLogger(__name__)


class Follower:
    """Base of a worker that follows the log: subclasses say what ``work`` is."""

    thread_name = "ledger-follower"
    what = "follower"

    def __init__(self) -> None:
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def work(self) -> object:
        raise NotImplementedError

    def on_database_error(self) -> None:
        """Called before a retry after a database error."""

    def start(self, poll_seconds: float) -> None:
        self._thread = threading.Thread(
            target=self.follow, args=(poll_seconds,), name=self.thread_name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def follow(self, poll_seconds: float, listen: Callable[[float], None] | None = None) -> None:
        """Work, then wait for a wake-up (or ``listen``) or the poll interval."""
        backoff = 0.1
        while not self._stop.is_set():
            try:
                self.work()
                backoff = 0.1
            except (sa.exc.DBAPIError, psycopg.Error, OSError) as e:
                log.warning("%s: %s; retrying in %.1fs", self.what, e, backoff)
                self.on_database_error()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:
                log.exception("%s failed; retrying", self.what)
                self._stop.wait(1.0)
                continue
            if listen is not None:
                listen(poll_seconds)
            else:
                self.wake.wait(poll_seconds)
                self.wake.clear()
