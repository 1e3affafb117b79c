"""``api.schemas.decode_json``: the fast decoder (jiter) never changes a verdict or a
value of the reference (``json`` with a hook refusing repeated keys)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.schemas import _decode_json_slowly, decode_json
from ledger.facade import InvalidEventError


def _outcome(fn: Any, body: bytes) -> tuple[str, Any]:
    try:
        return "ok", fn(body)
    except InvalidEventError as e:
        return "refused", [(p.field, p.message) for p in e.problems]


def _same(a: Any, b: Any) -> bool:
    """Equal with types (1 is not 1.0 nor True) and NaN equal to itself."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:
        return b != b
    return bool(a == b)


EDGES = [
    b'{"a": 1, "a": 2}',
    b'{"a": {"b": 1, "c": {"b": 2, "b": 3}}}',
    b'{"events": [{"x": 1}, {"x": 1, "y": 2, "x": 3}]}',
    b'["\\ud800"]',  # a lone surrogate escape: json takes it, jiter does not
    b'["\\udc00\\ud800"]',
    b"[" + b"9" * 5000 + b"]",  # more digits than Python converts
    b"[1e400, -1e400, NaN, Infinity, -Infinity]",
    b"[-0, 0.0, -0.0, 1E2, 0.1e1, 123456789012345678901234567890]",
    b'"a\x01"',  # a raw control character
    b'{"a":1} x',
    b"[1,]",
    b'"\xff"',
    b"\xef\xbb\xbf{}",
    b"  [1]  ",
    b"",
    b"nul",
    b'{"\\u0000": "\\u0000"}',
    b'{"a": 1, "A": 2}',
    b'{"\\u00e9": 1, "\xc3\xa9": 2}',  # the same key, escaped and not
]


def _decodes_as_the_reference_does(body: bytes) -> None:
    fast, slow = _outcome(decode_json, body), _outcome(_decode_json_slowly, body)
    assert fast[0] == slow[0]
    if fast[0] == "ok":
        assert _same(fast[1], slow[1])
    else:
        assert fast[1] == slow[1]


@pytest.mark.parametrize("body", EDGES)
def test_edges_decode_as_the_reference_does(body: bytes) -> None:
    _decodes_as_the_reference_does(body)


def test_a_repeated_key_written_once_escaped_is_still_refused() -> None:
    with pytest.raises(InvalidEventError):
        decode_json(b'{"\\u00e9": 1, "\xc3\xa9": 2}')


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(st.tuples(st.sampled_from(["a", "b", "é", "\u2028", "k"]), children), max_size=4)
    ),
    max_leaves=12,
)


def _dump(value: Any, escape: bool) -> str:
    """JSON text of ``value`` where a list of pairs is an object, repeats kept."""
    if isinstance(value, list) and value and all(isinstance(p, tuple) for p in value):
        inner = ", ".join(
            f"{json.dumps(k, ensure_ascii=escape)}: {_dump(v, escape)}" for k, v in value
        )
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_dump(v, escape) for v in value) + "]"
    return json.dumps(value, ensure_ascii=escape)


@settings(max_examples=300, deadline=None)
@given(_json, st.booleans())
def test_any_json_decodes_as_the_reference_does(value: Any, escape: bool) -> None:
    _decodes_as_the_reference_does(_dump(value, escape).encode())
