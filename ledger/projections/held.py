"""Stored events decoded for a walk that holds them (the findings walks): each keeps its
stored bytes instead of its decoded record (``Event.parse(..., raw=...)``).

A walk holds every event it judges for as long as it runs: one walk the whole log, a
partition its share and the log-wide events. Decoded, a record of the realistic world
(about 600 bytes of JSON) is about 2.3 KB of Python objects, and it was more than half
of a partition's memory at 200,000 events (``tracemalloc``). The rules read the parsed
fields and the payload, which the event keeps; the record itself is read when a
correction is applied (decoded again then) and to compare two versions of an event.

The short texts an event repeats from others — its assets' ids, its reporter, the
names in its location and payload — are interned: one string per
text for the whole walk instead of one per event (about 420 of 1,440 bytes an event
at 200,000 realistic events, for about 4 µs of parse).
"""

from __future__ import annotations

import sys
import threading
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from domain.history import Event


def held_event(position: int, state: bytes, record: dict[str, Any] | None = None) -> Event:
    """The event of a stored ``state``; ``record``: the state decoded already, handed
    over (it is frozen in place, and dropped once parsed)."""
    raw = state if type(state) is bytes else bytes(state)
    decoded = orjson.loads(raw) if record is None else record
    packed, unpack = PACKER.pack(raw)
    return Event.parse(
        position, _interned(decoded), owned=True, raw=packed, lean=True, unpack=unpack
    )


class Packer:
    """Packs stored records small, with a dictionary of the first ones it was given.

    A record is mostly the texts every record repeats (field names, types, instants'
    shapes, the ledger's id prefixes), which deflate alone cannot find in 600 bytes. At
    a million realistic events a record packs from 582 bytes to 183 on average with a
    dictionary made of the log's first 1,024 records (257 with the first 1,024 log-wide
    ones, as a restart reads them; 347 without a dictionary), in about 15 µs (a 16 KB
    window: 25 µs with deflate's largest state, for the same sizes), and unpacks in
    about 5 µs (read only for a correction, and to compare two versions of an event
    that do not pack alike). The dictionary is the last 16 KB of the first ``sample``
    records given, each cut to 1 KB (an inventory may be 100 KB); until it
    is made, records are kept as they are (``pack`` gives no ``unpack`` for them).
    Packing is deterministic for one dictionary, so two records packed alike are the
    same record."""

    _WINDOW = 14  # 16 KB: the dictionary fits it, and the compressor copied per record
    _MEMORY = 6  # is 40 % smaller than deflate's largest, for the same sizes

    def __init__(self, sample: int = 1024, dictionary_bytes: int = 16 * 1024) -> None:
        assert dictionary_bytes <= 1 << self._WINDOW
        self._wanted, self._size = sample, dictionary_bytes
        self._sample: list[bytes] = []
        self._dictionary = b""
        self._primed: Any = None  # a compressor primed with the dictionary
        # One object for every event it packed: they hold it, and compare by it.
        self._unpacker: Callable[[bytes], bytes] = self.unpack
        self._lock = threading.Lock()

    def pack(self, raw: bytes) -> tuple[bytes, Callable[[bytes], bytes] | None]:
        """``raw`` packed, and how to unpack it (``None``: kept as it is)."""
        primed = self._primed
        if primed is None:
            with self._lock:
                if self._primed is None:
                    self._sample.append(raw[:1024])
                    if len(self._sample) >= self._wanted:
                        self._dictionary = b"".join(self._sample)[-self._size :]
                        self._primed = zlib.compressobj(
                            1,
                            zlib.DEFLATED,
                            -self._WINDOW,
                            self._MEMORY,
                            zlib.Z_DEFAULT_STRATEGY,
                            self._dictionary,
                        )
                        self._sample = []
                    return raw, None
                primed = self._primed
        packer = primed.copy()
        return packer.compress(raw) + packer.flush(), self._unpacker

    def unpack(self, packed: bytes) -> bytes:
        return zlib.decompressobj(-self._WINDOW, self._dictionary).decompress(packed)


PACKER = Packer()
"""The process's: every walk's held events share one dictionary."""


def held_events(rows: Iterable[tuple[int, bytes]]) -> list[Event]:
    """The events of stored ``(position, state)`` rows."""
    return [held_event(p, s) for p, s in rows]


_SHORT = 64  # longer texts are rarely repeated (narratives, references)
_TOP = ("reporter", "contract_id", "confidence", "admiralty_code")


def _interned(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` (decoded JSON, handed over) with its repeated texts interned, in
    place."""
    intern = sys.intern
    assets = record.get("asset_ids")
    if type(assets) is list:
        record["asset_ids"] = [intern(a) if type(a) is str else a for a in assets]
    for name in _TOP:
        value = record.get(name)
        if type(value) is str:
            record[name] = intern(value)
    for part in (record.get("location"), record.get("payload")):
        if type(part) is dict:
            for name, value in part.items():
                if type(value) is str and len(value) <= _SHORT:
                    part[name] = intern(value)  # same keys: safe while iterating
    payload = record.get("payload")
    if type(payload) is dict and type(lines := payload.get("results")) is list:
        for line in lines:  # an inventory's: its assets' and parties' ids
            if type(line) is dict:
                for name, value in line.items():
                    if type(value) is str and len(value) <= _SHORT:
                        line[name] = intern(value)
    return record
