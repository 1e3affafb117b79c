"""Progress of the long commands (import, export, verify, projections rebuild), on stderr.

On a terminal it is a tqdm bar, redrawn in place with ``\\r``. Into a pipe, a file or a
CI log those redraws would pile up as fragments on one endless line, so there it is a
plain line now and then (every ``PLAIN_EVERY_SECONDS``) and one at the end. ``--quiet``
shows nothing.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

from tqdm import tqdm

PLAIN_EVERY_SECONDS = 10.0


class Progress:
    """What the commands use: a running count ``n``, advanced by ``update``; a context
    manager that finishes the display. This one shows nothing (``--quiet``)."""

    def __init__(self) -> None:
        self.n = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        return None

    def update(self, n: int = 1) -> None:
        self.n += n


class TerminalProgress(Progress):
    """A tqdm bar, redrawn in place: for a terminal only."""

    def __init__(self, desc: str, total: int | None, stream: TextIO) -> None:
        super().__init__()
        self.bar = tqdm(total=total, unit="ev", desc=desc, file=stream)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.bar.close()

    def update(self, n: int = 1) -> None:
        super().update(n)
        self.bar.update(n)


class PlainProgress(Progress):
    """Occasional whole lines: ``export: 12000/40000 events (30%)``, then a last one."""

    def __init__(
        self,
        desc: str,
        total: int | None,
        stream: TextIO,
        every: float = PLAIN_EVERY_SECONDS,
    ) -> None:
        super().__init__()
        self.desc = desc
        self.total = total
        self.stream = stream
        self.every = every
        self.started = time.monotonic()
        self.shown = self.started

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            seconds = time.monotonic() - self.started
            self._line(f"{self.n} events in {seconds:.1f} s")

    def update(self, n: int = 1) -> None:
        super().update(n)
        now = time.monotonic()
        if now - self.shown >= self.every:
            self.shown = now
            done = f"{self.n}/{self.total}" if self.total else str(self.n)
            share = f" ({100 * self.n // self.total}%)" if self.total else ""
            self._line(f"{done} events{share}")

    def _line(self, text: str) -> None:
        print(f"{self.desc}: {text}", file=self.stream, flush=True)


def progress(desc: str, total: int | None = None, *, quiet: bool = False) -> Progress:
    """A progress display on stderr suited to where stderr goes."""
    stream = sys.stderr
    if quiet:
        return Progress()
    if stream.isatty():
        return TerminalProgress(desc, total, stream)
    return PlainProgress(desc, total, stream)
