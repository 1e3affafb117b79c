"""Query parameters the reads share, parsed at the edge: ``as_of``, ``known_at`` and
``min_position`` (``View``), instants (``parse_instant``), and the findings filters
built into one ``FindingsQuery`` (``FindingsFilter``), shared by the JSON route and the
findings page.

Whatever reaches SQL is bounded here, so a bad parameter is a 422 naming it and never a
driver error: integers fit a signed 64-bit column (``MAX_POSITION``), instants have a UTC
form in years 0001–9999, and no path or query parameter holds U+0000, which PostgreSQL
refuses in text (``refuse_nul``, installed for every route).

A query parameter the route does not declare, or a single-valued one given twice, is
refused too (``undeclared_query``, checked by ``api.schemas.StrictRoute``): a typo such as
``?contrct=`` would otherwise filter nothing and answer everything. Each of these is an
``invalid-request`` problem (``api.errors.InvalidRequestError``)."""

from __future__ import annotations

import collections.abc
import types
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.dependencies.models import Dependant
from starlette.concurrency import run_in_threadpool

from api.deps import ServiceDep
from api.errors import InvalidRequestError
from domain.instants import INSTANT_RULES, InstantError, parse_given
from ledger.facade import CUSTODY, FINDINGS, FindingsQuery, Problem

MAX_POSITION = 2**63 - 1
"""The largest position, tree size or version a query may name: a signed 64-bit integer,
as the stores' columns hold (and the database driver binds)."""


def parse_instant(name: str, value: str | None) -> datetime | None:
    """An RFC 3339 instant with an offset, or a 422 naming the parameter."""
    if value is None:
        return None
    try:
        return parse_given(value)
    except InstantError as e:
        message = str(e)
    except ValueError:
        message = "not an RFC 3339 instant with an offset"
    raise InvalidRequestError(f"{name}: {message}", [Problem(name, message)])


async def refuse_nul(request: Request) -> None:
    """422 naming the first path or query parameter that holds U+0000. Async because
    it does no I/O: every request passes here, and a plain ``def`` dependency costs a
    hop to the thread pool and back (a tenth of a single append's time)."""
    for where in (request.path_params.items(), request.query_params.multi_items()):
        for name, value in where:
            if isinstance(value, str) and "\x00" in value:
                message = "must not contain U+0000 (NUL)"
                raise InvalidRequestError(f"{name}: {message}", [Problem(name, message)])


_SEQUENCES = (list, set, frozenset, tuple, collections.abc.Sequence)


def _repeats(annotation: Any) -> bool:
    """Does a parameter of this type take several values (``?x=1&x=2``)?"""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _repeats(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_repeats(a) for a in typing.get_args(annotation))
    return origin in _SEQUENCES or annotation in _SEQUENCES


def declared_query(dependant: Dependant) -> dict[str, bool]:
    """The query parameters a route takes, its dependencies' included: each name (the
    alias a client sends) → whether it may be given more than once."""
    declared: dict[str, bool] = {}
    seen: set[int] = set()
    todo = [dependant]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for field in current.query_params:
            repeats = _repeats(field.field_info.annotation)
            for name in {field.alias, field.validation_alias or field.alias}:
                declared[name] = repeats
        todo.extend(current.dependencies)
    return declared


def undeclared_query(request: Request, declared: dict[str, bool]) -> None:
    """422 naming each query parameter the route does not take, or a single-valued one
    given more than once; the detail lists the names the route takes."""
    counts: dict[str, int] = {}
    for name, _ in request.query_params.multi_items():
        counts[name] = counts.get(name, 0) + 1
    unknown = [Problem(name, "unknown query parameter") for name in counts if name not in declared]
    repeated = [
        Problem(name, f"given {n} times; give it once")
        for name, n in counts.items()
        if n > 1 and name in declared and not declared[name]
    ]
    problems = unknown + repeated
    if not problems:
        return
    detail = "; ".join(f"{p.field}: {p.message}" for p in problems[:3])
    if len(problems) > 3:
        detail += f" (and {len(problems) - 3} more)"
    if unknown:
        detail += f"; this route takes: {', '.join(sorted(declared)) or 'no query parameters'}"
    raise InvalidRequestError(detail, problems)


@dataclass(frozen=True)
class ViewParams:
    as_of: datetime | None
    known_at: datetime | None
    position: int


AsOf = Annotated[str | None, Query(description=f"Valid time; default now. {INSTANT_RULES}")]
KnownAt = Annotated[
    str | None,
    Query(description=f"Knowledge time: what the ledger knew then; default now. {INSTANT_RULES}"),
]
MinPosition = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_POSITION,
        description=(
            "Wait until projections have applied this position, else 503; "
            "a position beyond the log's head is refused at once (422)"
        ),
    ),
]

GivenInstant = Annotated[str | None, Query(description=INSTANT_RULES)]
PageCursor = Annotated[
    str | None,
    Query(description="`next_cursor` of the previous response's `page`: the next rows"),
]
"""The cursor of a document whose long lists come a page at a time."""


def _params(projections: Sequence[str]) -> Callable[..., Awaitable[ViewParams]]:
    async def params(
        service: ServiceDep,
        response: Response,
        as_of: AsOf = None,
        known_at: KnownAt = None,
        min_position: MinPosition = None,
    ) -> ViewParams:
        t = parse_instant("as_of", as_of)
        k = parse_instant("known_at", known_at)
        position = await run_in_threadpool(service.wait_for, min_position, projections)
        response.headers["X-Ledger-Position"] = str(position)
        return ViewParams(t, k, position)

    return params


@dataclass(frozen=True)
class Period:
    """A report's period ``[from, to)``; either end may be open."""

    start: datetime | None
    end: datetime | None


def report_period(
    period_from: Annotated[str | None, Query(alias="from")] = None,
    period_to: Annotated[str | None, Query(alias="to")] = None,
) -> Period:
    return Period(parse_instant("from", period_from), parse_instant("to", period_to))


ReportPeriod = Annotated[Period, Depends(report_period)]

view_params = _params(CUSTODY)
findings_view_params = _params(FINDINGS)
View = Annotated[ViewParams, Depends(view_params)]
FindingsView = Annotated[ViewParams, Depends(findings_view_params)]

CLEARED = {"false": False, "true": True, "any": None}


def findings_query(
    view: FindingsView,
    rule: str | None = None,
    kind: Annotated[str | None, Query(pattern="^(state|event|discrepancy)$")] = None,
    asset: str | None = None,
    contract: str | None = None,
    party: str | None = None,
    cleared: Annotated[str, Query(pattern="^(true|false|any)$")] = "false",
    active_at: Annotated[str | None, Query(description=f"Valid time. {INSTANT_RULES}")] = None,
    hindsight: Annotated[bool, Query(description="All knowledge instead of known then")] = False,
    detected_from: GivenInstant = None,
    detected_to: GivenInstant = None,
    cleared_from: GivenInstant = None,
    cleared_to: GivenInstant = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FindingsQuery:
    """The findings filters of SPEC.md §2 as one query object."""
    return FindingsQuery(
        rule=rule,
        kind=kind,
        asset=asset,
        contract=contract,
        party=party,
        cleared=CLEARED[cleared],
        active_at=parse_instant("active_at", active_at),
        known_at=view.known_at,
        hindsight=hindsight,
        detected_from=parse_instant("detected_from", detected_from),
        detected_to=parse_instant("detected_to", detected_to),
        cleared_from=parse_instant("cleared_from", cleared_from),
        cleared_to=parse_instant("cleared_to", cleared_to),
        cursor=cursor,
        limit=limit,
    )


FindingsFilter = Annotated[FindingsQuery, Depends(findings_query)]
