"""The dataclasses whose ``__init__`` is written out (``init=False``) so that mypyc
compiles it (docs/decisions/0028): each takes its fields, in their order, with their
defaults, and sets every one to what it was given — what ``dataclass`` would
generate. A field added to one of them without its ``__init__`` fails here.

Every frozen dataclass of ``domain`` is looked at: those with ``init=False`` are held
to the rule, and the list below says which are expected to be (so that one left out
of it, or one forgotten by a change, is seen)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from typing import Any

import pytest

import domain

WRITTEN_OUT = {
    "domain.rules.support_delivery._Judged0405",
    "domain.rules.facts.AssetFacts",
    "domain.rules.facts.AssetPart",
    "domain.rules.facts.ContractFacts",
    "domain.rules.findings.Finding",
    "domain.rules.impact.Impact",
    "domain.state.Segment",
    "domain.state.Step",
}


def _dataclasses() -> dict[str, type]:
    out = {}
    for info in pkgutil.walk_packages(domain.__path__, "domain."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                isinstance(obj, type)
                and dataclasses.is_dataclass(obj)
                and obj.__module__ == module.__name__
            ):
                out[f"{module.__name__}.{name}"] = obj
    return out


ALL = _dataclasses()

# Most of these run from the source only (``make test`` runs them with
# LEDGER_PURE_PYTHON=1): compiled, an ``__init__``'s signature reads (*args, **kwargs)
# and it refuses stand-in arguments of the wrong type. The compiled build is of this
# very source, and the walk compiled is held to the walk from source
# (tests/unit/test_compiled.py).
source_only = pytest.mark.source_only


@source_only
def test_the_written_out_inits_are_those_listed() -> None:
    written = {name for name, cls in ALL.items() if not cls.__dataclass_params__.init}  # type: ignore[attr-defined]
    assert written == WRITTEN_OUT


@source_only
@pytest.mark.parametrize("name", sorted(WRITTEN_OUT))
def test_a_written_out_init_takes_the_fields_with_their_defaults(name: str) -> None:
    cls = ALL[name]
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    fields = [f for f in dataclasses.fields(cls) if f.init]
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        assert p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, p
        want = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        assert f.default_factory is dataclasses.MISSING  # none of them has one
        assert p.default == want and type(p.default) is type(want), (p, f)


@source_only
@pytest.mark.parametrize("name", sorted(WRITTEN_OUT))
def test_a_written_out_init_sets_each_field_to_what_it_was_given(name: str) -> None:
    """By name and by position (distinct objects)."""
    cls = ALL[name]
    fields = [f for f in dataclasses.fields(cls) if f.init]
    given: dict[str, Any] = {f.name: object() for f in fields}
    for made in (cls(**given), cls(*given.values())):
        for f in fields:
            assert getattr(made, f.name) is given[f.name], f.name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, fields[0].name, None)


@source_only
def test_a_findings_written_out_equality_is_the_dataclass_one() -> None:
    """Equal when every field is, unequal when any one differs, the same hash when
    equal, and ``NotImplemented`` against another type (``Finding.__eq__``)."""
    from domain.rules.findings import Finding

    fields = dataclasses.fields(Finding)
    one: dict[str, Any] = {f.name: (f.name, 1) for f in fields}
    a, b = Finding(**one), Finding(**{k: (k, 1) for k in one})
    assert a == b and hash(a) == hash(b) and a is not b
    for f in fields:
        other = Finding(**{**one, f.name: (f.name, 2)})
        assert a.__eq__(other) is False and a != other, f.name
    assert a.__eq__(object()) is NotImplemented
    assert Finding.__hash__ is not object.__hash__  # dataclass still makes it


def test_a_finding_compares_and_hashes_by_its_fields_compiled_or_not() -> None:
    """Run compiled too: there, a class that defines ``__eq__`` loses the ``__hash__``
    that ``dataclass`` adds, unless it writes one out (a compiled ``Finding`` was
    briefly unhashable)."""
    from datetime import UTC, datetime

    from domain.rules.findings import Finding, FindingKind, Severity

    def made(summary: str) -> Finding:
        at = datetime(2020, 1, 1, tzinfo=UTC)
        return Finding(
            "R03/t1/2020-01-01T00:00:00Z", "R03", "UNACCOUNTED", FindingKind.STATE,
            Severity.HIGH, "t1", "c1", ("p1",), ("e1",), summary, at, None,
        )  # fmt: skip

    a, b, c = made("x"), made("x"), made("y")
    assert a == b and hash(a) == hash(b) and a is not b
    assert a != c
    assert len({a, b, c}) == 2
    assert a.with_life(a.valid_from, None, None, None) != a
    assert a.with_life(None, None, None, None) == a
