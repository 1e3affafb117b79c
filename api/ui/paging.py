"""Long lists on a page, a window at a time: at most ``ROWS`` rows of each, with links
to the previous and next window, so no page grows with the size of the ledger (a
contract of 10,000 assets, an event naming 10,000 assets).

Each list on a page has a name; the query parameter ``{name}_from`` says where its
window starts, so the windows of several lists on one page move independently and
every other parameter of the page is kept. Without links (the standalone report, a
saved document) a list shows its first window and says how many rows it left out.
Pure: no web framework.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

ROWS = 200


@dataclass(frozen=True)
class Window:
    """One list's rows on this page, and where the others are."""

    name: str
    items: Sequence[Any]
    start: int  # offset of the first row shown
    total: int
    prev_href: str | None
    next_href: str | None
    size: int = ROWS

    @property
    def prev_count(self) -> int:
        return min(self.size, self.start)

    @property
    def next_count(self) -> int:
        return min(self.size, self.total - self.last)

    @property
    def partial(self) -> bool:
        return len(self.items) < self.total

    @property
    def first(self) -> int:
        """1-based number of the first row shown (0 when none)."""
        return self.start + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.start + len(self.items)

    @property
    def left_out(self) -> int:
        return self.total - len(self.items)


class Paging:
    """The windows of a page's lists. ``path`` and ``params`` (the page's own query)
    make the links; with ``path=None`` there are no links."""

    def __init__(
        self,
        path: str | None = None,
        params: Sequence[tuple[str, str]] = (),
        size: int = ROWS,
    ) -> None:
        self.path = path
        self.params = list(params)
        self.size = size
        self.offsets = {
            k[: -len("_from")]: _offset(v) for k, v in self.params if k.endswith("_from")
        }

    @classmethod
    def of(cls, path: str, params: Mapping[str, str] | Sequence[tuple[str, str]]) -> Paging:
        items = list(params.items()) if isinstance(params, Mapping) else list(params)
        return cls(path, items)

    def window(self, name: str, items: Sequence[Any] | None, anchor: str | None = None) -> Window:
        rows = list(items or ())
        total = len(rows)
        start = min(self.offsets.get(name, 0), max(total - 1, 0))
        start -= start % self.size
        shown = rows[start : start + self.size]
        prev_href = next_href = None
        if self.path is not None:
            if start > 0:
                prev_href = self._href(name, max(start - self.size, 0), anchor)
            if start + self.size < total:
                next_href = self._href(name, start + self.size, anchor)
        return Window(name, shown, start, total, prev_href, next_href, self.size)

    def _href(self, name: str, start: int, anchor: str | None) -> str:
        key = f"{name}_from"
        kept = [(k, v) for k, v in self.params if k != key and v != ""]
        if start:
            kept.append((key, str(start)))
        query = ("?" + urlencode(kept)) if kept else ""
        return f"{self.path}{query}" + (f"#{anchor}" if anchor else "")


def _offset(value: str) -> int:
    """A window's start as the link wrote it; anything else is the first window (a
    pager is navigation, not a filter: a stale or odd link shows the list's start)."""
    return int(value) if value.isdigit() and len(value) < 10 else 0
