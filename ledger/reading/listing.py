"""Long lists in a JSON document, a page at a time: a contract of 10,000 assets lists
each of them in several sections of its report, and no response should grow with the
size of the ledger.

:func:`page_lists` cuts every named list of a document (a dotted path, such as
``assets.accounted_for``) to the same window, ``limit`` rows from ``offset`` on, and
adds a ``page`` block: the window, every list's whole length (``totals``) and the
``next_cursor`` that asks for the next window (``None`` on the last). The counts a
document gives beside its lists (``assets.total``, ``event_findings_total``) stay
whole. The cursor is opaque to clients: base64url of the offset.

Each page is computed from the view the request names, like the pages of
``GET /v1/findings``: a ledger that moved on between two requests can shift rows
between pages; a page's reproducibility block names the log head it was read at. A
complete document in one piece is the contract's evidence bundle.

Pure: no web framework, no database.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from ledger.errors import InvalidEventError, Problem

MAX_ROWS = 1000
"""The most rows of each list one response holds (and the default page)."""


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The offset a cursor names (0 without one); a malformed cursor is the client's
    error (400), never a silent first page."""
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
        if not text.startswith("o") or not text[1:].isdigit():
            raise ValueError(text)
        return int(text[1:])
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidEventError(
            "cursor: not a cursor this server gave", [Problem("cursor", "malformed")]
        ) from None


def page_lists(
    doc: dict[str, Any], paths: Iterable[str], offset: int, limit: int = MAX_ROWS
) -> dict[str, Any]:
    """``doc`` with each list at ``paths`` cut to ``[offset, offset + limit)`` and a
    ``page`` block (module notes). A path whose list is missing is skipped; a mapping
    keyed like a list it shadows is cut with it (``path=mapping_path``)."""
    limit = max(1, min(limit, MAX_ROWS))
    totals: dict[str, int] = {}
    more = False
    for path in paths:
        path, _, shadow = path.partition("=")
        holder, name = _holder(doc, path)
        if holder is None or not isinstance(holder.get(name), list):
            continue
        rows = holder[name]
        totals[path] = len(rows)
        window = rows[offset : offset + limit]
        holder[name] = window
        more = more or offset + limit < len(rows)
        if shadow:
            mapping_holder, mapping_name = _holder(doc, shadow)
            if mapping_holder is not None and isinstance(mapping_holder.get(mapping_name), dict):
                kept = set(window)
                mapping = mapping_holder[mapping_name]
                mapping_holder[mapping_name] = {k: v for k, v in mapping.items() if k in kept}
    doc["page"] = {
        "offset": offset,
        "limit": limit,
        "totals": totals,
        "next_cursor": encode_cursor(offset + limit) if more else None,
    }
    return doc


def _holder(doc: Mapping[str, Any], path: str) -> tuple[dict[str, Any] | None, str]:
    *parents, name = path.split(".")
    node: Any = doc
    for p in parents:
        node = node.get(p) if isinstance(node, Mapping) else None
    return (node if isinstance(node, dict) else None), name
