"""The server does what ``/openapi.json`` says, on SQLite and PostgreSQL: a bounded,
seeded, derandomized schemathesis run (``tests.faults.fuzz``, whose ``main`` is the long
run) with the checks not_a_server_error, status_code_conformance,
content_type_conformance, response_schema_conformance, positive_data_acceptance,
negative_data_rejection and ``refusals_name_no_shape``, on a ledger holding the documented
examples, so the examples phase reads real assets, parties and findings."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.bootstrap import Ledger
from ledger.settings import Settings
from tests.faults.fuzz import fuzz_settings, run, seed

SEED = 20141206


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return fuzz_settings(database_url, tmp_path / "signing-key.pem")


def test_the_server_answers_as_its_openapi_document_says(ledger: Ledger) -> None:
    key = ledger.keys.create("fuzz", "admin", None)
    app = create_app(ledger=ledger)
    with TestClient(app) as client:
        seed(client, key)
    ledger.runner.catch_up()
    summary = run(
        app,
        key,
        max_examples=5,
        seed_value=SEED,
        backend=ledger.settings.database_url.split(":", 1)[0],
        phases=("examples", "fuzzing"),
    )
    assert summary.failures == {}, summary.text()
    assert summary.errors == [], summary.text()
    assert summary.server_errors == 0, summary.text()
    # Enough to have tried every operation, positive and negative, in under a minute.
    assert summary.requests >= 200, summary.text()
    assert {200, 201, 404, 422} <= set(summary.statuses), summary.text()
