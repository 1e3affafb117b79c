"""What a line of knowledge cuts added to their inventories (:class:`Journal`): what R14
reads of the inventories since it last judged an asset (``CutFacts.inventories_since``)."""

from __future__ import annotations

from domain.history import Event


class Journal:
    """The inventory versions a line of cuts added, in order, none removed
    (:meth:`CutFacts.inventories_since`), and where each cut's additions end: what a
    cut holds beyond an earlier one of the line is a slice. A cut that removes a
    version, or is derived from a cut not of the line or not its last, starts a new
    line (the cuts of the old one then follow their links). As many cuts are
    remembered as ``capacity`` (what the cuts' links remember), and only their
    versions: its memory does not grow with the log."""

    __slots__ = ("added", "base", "capacity", "ends")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.added: list[Event] = []
        self.base = 0  # the position in the line of ``added[0]``
        self.ends: dict[int, int] = {}  # cut serial → its additions' end in the line

    def extended(
        self, before: int, serial: int, added: tuple[Event, ...], removed: tuple[Event, ...]
    ) -> None:
        """Cut ``serial`` was derived from cut ``before`` by adding ``added`` and
        removing ``removed``."""
        at = self.ends.get(before)
        if removed or at is None or at != self.base + len(self.added):
            self.added, self.base = [], 0
            self.ends = {} if removed else {before: 0}
        self.added.extend(added)
        self.ends[serial] = self.base + len(self.added)
        if len(self.ends) > self.capacity:
            del self.ends[next(iter(self.ends))]
            first = self.ends[next(iter(self.ends))]  # the ends grow with the serials
            del self.added[: first - self.base]
            self.base = first

    def since(self, serial: int, now: int) -> list[Event] | None:
        """The versions cut ``now`` holds beyond cut ``serial`` when both are of this
        line (``None``: follow the links)."""
        start, end = self.ends.get(serial), self.ends.get(now)
        if start is None or end is None or start > end:
            return None
        return self.added[start - self.base : end - self.base]


Links = dict[int, tuple[int, tuple[Event, ...], tuple[Event, ...]]]
"""Per cut serial: the serial of the cut it was derived from, the inventory versions it
added and those it removed (``CutFacts._inventory_links``)."""


def chained(links: Links, now: int, serial: int) -> tuple[list[Event], list[Event]] | None:
    """The versions cut ``now`` holds and cut ``serial`` did not, and those it held and
    ``now`` does not, following ``links`` back from ``now``; ``None`` when ``now`` does
    not derive from ``serial`` (or from too far back)."""
    chain: list[tuple[int, tuple[Event, ...], tuple[Event, ...]]] = []
    at = now
    removals = False
    while at != serial:
        link = links.get(at)
        if link is None:
            return None
        chain.append(link)
        removals = removals or bool(link[2])
        at = link[0]
    if not removals:  # additions only (the walk's cut): each version added once
        plain: list[Event] = []
        for _, plus, _ in reversed(chain):
            plain.extend(plus)
        return plain, []
    added: dict[int, Event] = {}
    removed: dict[int, Event] = {}
    for _, plus, minus in reversed(chain):
        for e in minus:
            if added.pop(id(e), None) is None:
                removed[id(e)] = e
        for e in plus:
            added[id(e)] = e
    return list(added.values()), list(removed.values())
