"""Writer clients: threads appending single events and small batches over HTTP, keeping a
book of every request, every answer and every receipt.

An append that gets no answer (the server died, the connection broke) is retried with
the same ``event_id``s, on whichever API process is up, until a deadline: the ledger
promises the same id with the same body returns the first result (200), so a retry can
never store twice. One that gets 503 waits its ``Retry-After`` (at most a second) and
retries. An append is *acknowledged* when a 201 or 200 came back: the receipts (event
id, position, hash) are then what the checks hold the stored log to. One that never got
an answer is *indeterminate*: it may be stored or not, but a batch all or none.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.faults.deploy import transfer

Receipt = tuple[str, int, str]
"""(event_id, position, hash hex) as a 201/200 answered them"""


@dataclass
class Append:
    """One logical append: a single event or a batch, with its retries."""

    event_ids: list[str]
    batch: bool
    outcome: str = "pending"  # acked | indeterminate | refused | error
    receipts: list[Receipt] = field(default_factory=list)
    attempts: int = 0
    final_status: int | None = None


class Book:
    """Everything the writers saw, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.appends: list[Append] = []
        self.answers: Counter[str] = Counter()  # "201", "503", "ConnectError", …
        self.unexpected: list[str] = []  # an example of each surprising answer
        self.missing_retry_after = 0
        self.slowest = 0.0

    def answer(self, what: str, example: str | None = None, seconds: float = 0.0) -> None:
        with self.lock:
            self.answers[what] += 1
            self.slowest = max(self.slowest, seconds)
            if example is not None and len(self.unexpected) < 20:
                self.unexpected.append(example)

    def outcomes(self) -> Counter[str]:
        with self.lock:
            return Counter(a.outcome for a in self.appends)

    def acked_events(self) -> int:
        with self.lock:
            return sum(len(a.receipts) for a in self.appends if a.outcome == "acked")


class Writers:
    """``n`` writer threads; ``pause()`` returns once none has an append in flight."""

    def __init__(
        self,
        bases: Callable[[], list[str]],
        key: str,
        *,
        n: int,
        assets: int,
        prefix: str,
        seed: int,
        batch_share: float = 0.3,
        timeout: float = 30.0,
        give_up_after: float = 30.0,
        allowed: frozenset[int] = frozenset({200, 201, 409, 503}),
    ) -> None:
        self.bases = bases
        self.headers = {"Authorization": f"Bearer {key}"}
        self.n = n
        self.assets = assets
        self.prefix = prefix
        self.seed = seed
        self.batch_share = batch_share
        self.timeout = timeout
        self.give_up_after = give_up_after
        self.allowed = allowed
        self.book = Book()
        self._go = threading.Event()
        self._stop = threading.Event()
        self._busy = 0
        self._idle = threading.Condition()
        self._threads: list[threading.Thread] = []

    # -- control -------------------------------------------------------------------------

    def start(self) -> None:
        self._go.set()
        for w in range(self.n):
            t = threading.Thread(target=self._run, args=(w,), name=f"writer-{w}", daemon=True)
            t.start()
            self._threads.append(t)

    def pause(self) -> None:
        self._go.clear()
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0)

    def resume(self) -> None:
        self._go.set()

    def stop(self) -> None:
        self._stop.set()
        self._go.set()
        for t in self._threads:
            t.join(timeout=self.give_up_after + self.timeout + 5)

    # -- one writer ----------------------------------------------------------------------

    def _run(self, w: int) -> None:
        rng = random.Random(self.seed * 1000 + w)
        with httpx.Client(timeout=self.timeout, headers=self.headers) as client:
            seq = 0
            while True:
                self._go.wait()
                if self._stop.is_set():
                    return
                with self._idle:
                    if not self._go.is_set():
                        continue
                    self._busy += 1
                try:
                    seq += 1
                    self._append(client, rng, f"{self.prefix}-w{w}-{seq}")
                finally:
                    with self._idle:
                        self._busy -= 1
                        self._idle.notify_all()

    def _append(self, client: httpx.Client, rng: random.Random, tag: str) -> None:
        if rng.random() < self.batch_share:
            size = rng.randint(2, 5)
            events = [
                transfer(f"a{rng.randrange(self.assets)}", rng.randrange(2), f"{tag}-{k}")
                for k in range(size)
            ]
            path, body = "/v1/events:batch", {"events": events}
        else:
            events = [transfer(f"a{rng.randrange(self.assets)}", rng.randrange(2), tag)]
            path, body = "/v1/events", events[0]
        record = Append([e["event_id"] for e in events], batch=len(events) > 1 or "batch" in path)
        with self.book.lock:
            self.book.appends.append(record)
        deadline = time.monotonic() + self.give_up_after
        while True:
            bases = self.bases()
            if not bases:
                if time.monotonic() > deadline:
                    record.outcome = "indeterminate"
                    return
                time.sleep(0.1)
                continue
            base = rng.choice(bases)
            record.attempts += 1
            started = time.monotonic()
            try:
                r = client.post(base + path, json=body)
            except httpx.TimeoutException as exc:
                self.book.answer(
                    "timeout", f"{path}: no answer in {self.timeout:.0f} s ({exc!r})", self.timeout
                )
                retry = True
            except httpx.TransportError as exc:
                self.book.answer(type(exc).__name__, seconds=time.monotonic() - started)
                retry = True
            else:
                retry = self._answered(record, r, time.monotonic() - started)
                if not retry:
                    return
                if r.status_code == 503:
                    pause = _retry_after(r.headers.get("retry-after"))
                    time.sleep(min(1.0, pause if pause is not None else 1.0))
                    if time.monotonic() > deadline:
                        record.outcome = "indeterminate"
                        return
                    continue
            if time.monotonic() > deadline:
                record.outcome = "indeterminate"
                return
            time.sleep(rng.uniform(0.05, 0.25))

    def _answered(self, record: Append, r: httpx.Response, seconds: float) -> bool:
        """Book the answer; True to retry."""
        status = r.status_code
        record.final_status = status
        surprising = status not in self.allowed
        example = f"{status} {r.request.url.path}: {r.text[:300]}" if surprising else None
        self.book.answer(str(status), example, seconds)
        if status == 503:
            if _retry_after(r.headers.get("retry-after")) is None:
                with self.book.lock:
                    self.book.missing_retry_after += 1
            return True
        if status in (200, 201):
            data: Any = r.json()
            results = data.get("results", [data])
            record.receipts = [(x["event_id"], int(x["position"]), x["hash"]) for x in results]
            record.outcome = "acked"
            return False
        record.outcome = "refused" if 400 <= status < 500 else "error"
        return False


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
