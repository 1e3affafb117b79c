"""Schemathesis against the app: does the server do what ``/openapi.json`` says?

``main(backend, max_examples)`` builds a ledger on ``sqlite`` or ``postgres`` (a fresh
database, migrated), loads it with the documented request examples in their order
(``api.openapi``), and runs schemathesis through its ASGI integration with the phases
examples, coverage and fuzzing and the checks not_a_server_error,
status_code_conformance, content_type_conformance, response_schema_conformance,
positive_data_acceptance and negative_data_rejection. It prints a summary: requests
sent, server errors, failures by check with an example of each. The suite runs a bounded,
seeded version (``tests/api/test_schemathesis.py``).

``positive_data_acceptance`` is told that an append or a read may answer 413 or 422 to a
request the schema admits, because some refusals depend on what the ledger holds or on
several fields together, which JSON Schema cannot say (an unknown party, a retraction of
a retraction, ``occurred_at`` in the future, a body over 256 KiB). The check
``refusals_name_no_shape`` then holds each such answer to exactly that: every field
problem of a 422 must be one of ``DATA_REFUSALS``, and a 413 needs a body over the limit.
A refusal for shape of a request the schema admits is a failure.

    .venv/bin/python -m tests.faults.fuzz sqlite 300
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.core import NotSet
from schemathesis.engine import events
from sqlalchemy.engine import make_url

from api.app import create_app
from api.openapi import BATCH_EXAMPLES, EVENT_EXAMPLES
from ledger.bootstrap import Ledger, build_ledger
from ledger.settings import Settings
from ledger.store.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "LEDGER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
)
REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]
"""schemathesis's own list of statuses that reject a request."""
# An infinite response by design (server-sent events): tests/e2e/test_stream.py drives it.
EXCLUDED = ("/v1/events/stream",)

DATA_REFUSALS: tuple[tuple[str, str], ...] = (
    # (field, message): refusals that depend on what the ledger holds ...
    (r".*", r"unknown (party|asset|facility|contract|authorization|event) "),
    (r".*", r"a retraction cannot be retracted"),
    (r".*", r"cannot be corrected: retract it instead"),
    (r".*", r"the corrected event would be invalid"),
    (r"(events\[\d+\]\.)?(occurred_at|discovered_at)", r"more than 5 minutes after"),
    (r"(events\[\d+\]\.)?reported_at", r"must not be after recorded_at"),
    (r"until|after|min_position", r"at most \d+"),  # beyond the log's head
    (r"checkpoint", r"must be at least \d+"),
    # Evidence at a knowledge time no checkpoint can cover yet: it depends on the clock.
    (r"known_at", r"^in the future$"),
    # ... or on several fields together ...
    (r"(events\[\d+\]\.)?occurred_(earliest|latest)", r"must not be (after|before) occurred_at"),
    (r"(events\[\d+\]\.)?payload\.to_party", r"a transfer must change the party"),
    (r"(events\[\d+\]\.)?payload\.corrected_fields\..*", r"identity and knowledge fields"),
    (r"(events\[\d+\]\.)?payload\.results", r"an asset appears twice"),
    (r"events\[\d+\]\.event_id", r"repeats an event_id of this batch"),
    (r"(events\[\d+\]\.)?contract_id", r"must equal payload.contract_id"),
    (r"(events\[\d+\]\.)?expected_version", r"exactly one asset|names assets not in asset_ids"),
    (r"If-Match|if-match", r"duplicate"),
    (r"(events\[\d+\]\.)?payload", r"valid_to must be after payload.valid_from"),
    (r"from", r"must be positive and at most `to`"),
    # ... or that JSON Schema cannot measure (documented in prose).
    (r".*", r"outside years 0001.9999 once converted to UTC"),
    (r"(events\[\d+\]\.)?extensions", r"at most 16 KiB|nest at most \d+ levels"),
    (r"(events\[\d+\]\.)?payload\.corrected_fields", r"nest at most \d+ levels"),
    # A repair's own performer must name the work order; only another reporter (a leaked
    # or observed repair) may leave it out (DOMAIN.md §3): two fields, not one.
    (
        r"(events\[\d+\]\.)?payload\.work_order_id",
        r"^is required when the reporter is the performer",
    ),
    # A cosignature request is a C2SP note and a verifier key whose id is its key's hash
    # (tlog-cosignature), which JSON Schema cannot say (docs/decisions/0012).
    (r"body", r"^body: not a checkpoint note: "),
    (
        r"witness",
        r"^witness: (verifier key .*: the key id does not match|only Ed25519|a "
        r"cosignature key has type)",
    ),
    # An EPCIS document is valid by GS1's JSON Schema, which the document names but does
    # not inline, and maps by what its events say together (docs/epcis.md).
    (r".*", r"^EPCIS (2\.0 schema|mapping|capture): "),
)
_REFUSALS = [(re.compile(f), re.compile(m)) for f, m in DATA_REFUSALS]
BODY_LIMIT: int = Settings.model_fields["max_body_bytes"].default
BATCH_LIMIT: int = Settings.model_fields["max_batch_body_bytes"].default


DATA_REFUSED: Counter[str] = Counter()
"""How often each of ``DATA_REFUSALS`` excused a refusal of a schema-valid request."""


def _is_data_refusal(problem: dict[str, Any]) -> bool:
    name, message = str(problem.get("field", "")), str(problem.get("message", ""))
    for (f, m), (_, text) in zip(_REFUSALS, DATA_REFUSALS, strict=True):
        if f.fullmatch(name) and m.search(message):
            DATA_REFUSED[text] += 1
            return True
    return False


MISLABELLED: Counter[str] = Counter()
"""Requests schemathesis generated as schema-valid whose JSON body the schema refuses."""
_VALIDATORS: dict[tuple[int, str, str, str], jsonschema.Draft202012Validator | None] = {}


def _schema_admits_body(case: schemathesis.Case) -> bool:
    """A second opinion on a positive case's JSON body: jsonschema's verdict against the
    operation's schema. Schemathesis's coverage phase labels some bodies positive that
    the schema refuses (seen: a closed object of one ``oneOf`` branch given a property
    of another branch and an enum value of a third); refusing those is no mismatch."""
    body = case.body
    if case.media_type != "application/json" or body is None or isinstance(body, NotSet):
        return True
    root = case.operation.schema.raw_schema
    key = (id(root), case.path, case.method.lower(), case.media_type)
    if key not in _VALIDATORS:
        operation = root["paths"][case.path][case.method.lower()]
        content = operation.get("requestBody", {}).get("content", {}).get(case.media_type)
        _VALIDATORS[key] = (
            None
            if content is None or "schema" not in content
            else jsonschema.Draft202012Validator(
                {"allOf": [content["schema"]], "components": root.get("components", {})}
            )
        )
    validator = _VALIDATORS[key]
    return validator is None or validator.is_valid(body)


@schemathesis.check
def refusals_name_no_shape(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """A schema-valid request is refused only for its data, never for its shape; and the
    only 503 is that of a read waiting for a ``min_position`` the projections lack."""
    if response.status_code == 503:
        problem = response.json()
        waited = (case.query or {}).get("min_position") is not None
        assert waited and str(problem.get("type")).endswith(":not-ready"), (
            f"503 other than projections behind a requested min_position: {problem}"
        )
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if not _schema_admits_body(case):
        MISLABELLED[f"{case.method} {case.path}"] += 1
        return None
    if response.status_code == 413:
        sent = response.request.body or b""
        size = len(sent if isinstance(sent, bytes) else str(sent).encode())
        limit = BATCH_LIMIT if case.path.endswith(":batch") else BODY_LIMIT
        assert size > limit, f"413 for a body of {size} bytes, within the limit of {limit}"
    if response.status_code == 422:
        problem = response.json()
        shape = [p for p in problem.get("errors", []) if not _is_data_refusal(p)]
        assert problem.get("errors"), f"422 without field problems: {problem}"
        assert not shape, f"a request the schema admits was refused for its shape: {shape}"
    return None


# --- the ledger under test --------------------------------------------------------------


def _pg_conninfo(url: str) -> str:
    u = make_url(url)
    return (
        f"host={u.host or '127.0.0.1'} port={u.port or 5432} user={u.username or 'postgres'} "
        f"dbname={u.database or 'postgres'}" + (f" password={u.password}" if u.password else "")
    )


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, migrated database on ``backend``, dropped afterwards."""
    if backend == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="ledger-fuzz-"))
        try:
            url = f"sqlite:///{tmp}/ledger.db"
            upgrade(url)
            yield url
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    if backend != "postgres":
        raise ValueError(f"backend: sqlite or postgres, not {backend!r}")
    name = f"ledger_fuzz_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_pg_conninfo(PG_ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
            upgrade(url)
            yield url
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fuzz_settings(database_url: str, key_file: Path) -> Settings:
    # A read that waits for a far min_position gives up at once: the 503 is the same.
    return Settings(
        database_url=database_url,
        signing_key_file=key_file,
        read_your_writes_timeout_seconds=0.02,
    )


def seed(client: TestClient, key: str) -> None:
    """The documented examples in their order, then a checkpoint: the parameters'
    examples name things that exist."""
    headers = {"Authorization": f"Bearer {key}"}
    for path, examples in (("/v1/events", EVENT_EXAMPLES), ("/v1/events:batch", BATCH_EXAMPLES)):
        for name, _, body in examples:
            r = client.post(path, json=body, headers=headers)
            assert r.status_code in (200, 201), f"example {name}: {r.status_code} {r.text}"
    r = client.post("/v1/audit/checkpoints", headers=headers)
    assert r.status_code in (200, 201), r.text


class Counting:
    """The app, counting the statuses it answers (what the server really sent)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.statuses: Counter[int] = Counter()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counted(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counted)


# --- running schemathesis -----------------------------------------------------------------


@dataclass
class Summary:
    backend: str
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, dict[str, str]] = field(default_factory=dict)
    """check name → {operation and failure title: one example}"""
    errors: list[str] = field(default_factory=list)
    refused_for_data: Counter[str] = field(default_factory=Counter)
    """Field problems of schema-valid requests refused for their data, by kind."""
    mislabelled: Counter[str] = field(default_factory=Counter)
    """Cases schemathesis called positive whose body the schema refuses, by operation."""

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        """5xx answers, but the documented 503 of a read waiting for a min_position."""
        return sum(n for status, n in self.statuses.items() if status >= 500 and status != 503)

    def text(self) -> str:
        lines = [
            f"schemathesis on {self.backend}: {self.requests} requests in {self.seconds:.0f} s, "
            f"{self.server_errors} server errors (5xx but 503 not-ready)",
            "  statuses: " + ", ".join(f"{s}×{n}" for s, n in sorted(self.statuses.items())),
        ]
        for check in sorted(set(CHECKS) | set(self.failures) | {"refusals_name_no_shape"}):
            found = self.failures.get(check, {})
            lines.append(f"  {check}: {len(found)} distinct failures")
            for title, example in sorted(found.items())[:20]:
                lines.append(f"    - {title}\n        {example}")
        lines.append("  schema-valid requests refused for their data (field problems):")
        lines += [f"    {n:6d} {kind}" for kind, n in self.refused_for_data.most_common()]
        if self.mislabelled:
            lines.append(
                "  generated as schema-valid, but jsonschema finds the body invalid "
                "(not held to positive_data_acceptance's standard):"
            )
            lines += [f"    {n:6d} {op}" for op, n in self.mislabelled.most_common()]
        lines += [f"  engine error: {e}" for e in self.errors]
        return "\n".join(lines)


PHASES = ("examples", "coverage", "fuzzing")


def _config(
    key: str, max_examples: int, seed_value: int, phases: tuple[str, ...]
) -> schemathesis.Config:
    positive = ["2xx", "401", "403", "404", "409", "413", "422", "503"]
    checks: dict[str, Any] = {
        "enabled": False,
        **{name: {"enabled": True} for name in CHECKS},
        "positive_data_acceptance": {"enabled": True, "expected-statuses": positive},
        # 503 is documented: projections behind a min_position (refusals_name_no_shape
        # holds each 503 to that).
        "not_a_server_error": {"enabled": True, "expected-statuses": ["2xx", "3xx", "4xx", "503"]},
        # A body over the byte limit is refused before it is read.
        "negative_data_rejection": {"enabled": True, "expected-statuses": [*REJECTIONS, "413"]},
        "refusals_name_no_shape": {"enabled": True},
    }
    # Derandomized, no example database: the same seed sends the same requests.
    generation = {
        "max-examples": max_examples,
        "deterministic": True,
        "no-shrink": True,
        "database": "none",
    }
    return schemathesis.Config.from_dict(
        {
            "seed": seed_value,
            "suppress-health-check": ["all"],
            # Each run stands alone (and leaves no .schemathesis/ in the work tree).
            "cache": {"enabled": False},
            "headers": {"Authorization": f"Bearer {key}"},
            "checks": checks,
            "phases": {
                "examples": {"enabled": "examples" in phases, "fill-missing": True},
                "coverage": {"enabled": "coverage" in phases},
                "fuzzing": {"enabled": "fuzzing" in phases},
                "stateful": {"enabled": False},
            },
            "generation": generation,
            "operations": [{"include-path": list(EXCLUDED), "enabled": False}],
        }
    )


def run(
    app: Any,
    key: str,
    *,
    max_examples: int,
    seed_value: int = 0,
    backend: str = "",
    phases: tuple[str, ...] = PHASES,
) -> Summary:
    """Schemathesis against ``app`` (already seeded) with an admin ``key``."""
    counting = Counting(app)
    summary = Summary(backend)
    config = _config(key, max_examples, seed_value, phases)
    schema = schemathesis.openapi.from_asgi("/openapi.json", counting, config=config)
    counting.statuses.clear()  # the schema's own download is not a test request
    DATA_REFUSED.clear()
    MISLABELLED.clear()
    started = time.monotonic()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _collect(event.recorder, summary)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            summary.errors.append(str(getattr(event, "info", event)))
    summary.seconds = time.monotonic() - started
    summary.statuses = counting.statuses
    summary.refused_for_data = Counter(DATA_REFUSED)
    summary.mislabelled = Counter(MISLABELLED)
    return summary


def _collect(recorder: Any, summary: Summary) -> None:
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            case = recorder.cases[case_id].value
            interaction = recorder.interactions.get(case_id)
            answer = ""
            if interaction is not None and interaction.response is not None:
                answer = f"→ {interaction.response.status_code} "
                answer += interaction.response.content[:300].decode("utf-8", "replace")
            title = f"{failure.operation}: {failure.title}"
            sent = (
                f"{case.method} {case.formatted_path} query={case.query} "
                f"headers={ {k: v for k, v in (case.headers or {}).items() if k != 'Authorization'} } "
                f"body={case.body!r}"
            )
            message = " ".join(str(failure.message).split())[:300]
            summary.failures.setdefault(check.name, {}).setdefault(
                title, f"{message} | {sent[:400]} {answer}"
            )


def main(backend: str = "sqlite", max_examples: int = 100) -> int:
    """Run schemathesis on ``backend``; print the summary; 1 if anything failed."""
    with database(backend) as url, tempfile.TemporaryDirectory() as tmp:
        ledger: Ledger = build_ledger(fuzz_settings(url, Path(tmp) / "signing-key.pem"))
        try:
            key = ledger.keys.create("fuzz", "admin", None)
            app = create_app(ledger=ledger)
            with TestClient(app) as client:
                seed(client, key)
                ledger.runner.catch_up()
                summary = run(app, key, max_examples=max_examples, backend=backend)
        finally:
            ledger.close()
    print(summary.text())
    failed = summary.server_errors or summary.failures or summary.errors
    return 1 if failed else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args[0] if args else "sqlite", int(args[1]) if len(args) > 1 else 100))
