"""Read-only JSON: a logged event's record and payload as the domain holds them
(mapping proxies and tuples), and the plain copy a correction edits."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

_LEAVES = frozenset({str, int, float, bool, type(None)})


def freeze(value: Any) -> Any:
    """A read-only deep copy of JSON: objects become mapping proxies, arrays tuples."""
    # Exact type tests first: every logged event passes through here, and an ABC
    # isinstance check per JSON value costs more than the copy itself.
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is dict:
        return MappingProxyType(
            {str(k): v if type(v) in _LEAVES else freeze(v) for k, v in value.items()}
        )
    if kind is list or kind is tuple:
        return tuple(v if type(v) in _LEAVES else freeze(v) for v in value)
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    return value


def freeze_owned(value: Any) -> Any:
    """``freeze`` of JSON nobody else holds (just decoded): its dicts are wrapped in
    place, not copied; JSON's keys are strings already."""
    kind = type(value)
    if kind is dict:
        for k, v in value.items():
            if type(v) is dict or type(v) is list:
                value[k] = freeze_owned(v)  # same keys: safe while iterating
        return MappingProxyType(value)
    if kind is list:
        return tuple(v if type(v) in _LEAVES else freeze_owned(v) for v in value)
    return freeze(value)


def thaw(value: Any) -> Any:
    """A plain, mutable JSON copy of a frozen value."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value
