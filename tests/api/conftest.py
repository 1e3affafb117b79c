from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.bootstrap import Ledger
from tests import wire


class Api:
    """A test client that knows a key per role."""

    def __init__(self, client: TestClient, ledger: Ledger) -> None:
        self.client = client
        self.ledger = ledger
        self.keys: dict[str, str] = {}

    def key(self, role: str, party: str | None = None) -> str:
        name = f"{role}-{party}" if party else role
        if name not in self.keys:
            self.keys[name] = self.ledger.keys.create(name, role, party)
        return self.keys[name]

    def headers(self, role: str = "admin", party: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(role, party)}"}

    def post(self, body: Any, role: str = "admin", party: str | None = None, **kw: Any) -> Any:
        headers = {**self.headers(role, party), **kw.pop("headers", {})}
        return self.client.post("/v1/events", json=body, headers=headers, **kw)

    def batch(self, events: list[dict[str, Any]], role: str = "admin", **kw: Any) -> Any:
        return self.client.post(
            "/v1/events:batch", json={"events": events}, headers=self.headers(role), **kw
        )

    def get(self, path: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers(role), **kw)

    def log_size(self) -> int:
        return self.ledger.lookups.head()[0]

    def seed(self, events: list[dict[str, Any]] | None = None) -> None:
        r = self.batch(events or wire.reference_world())
        assert r.status_code == 201, r.text


@pytest.fixture
def api(ledger: Ledger) -> Iterator[Api]:
    with TestClient(create_app(ledger=ledger), raise_server_exceptions=False) as client:
        yield Api(client, ledger)


@pytest.fixture
def seeded(api: Api) -> Api:
    api.seed()
    api.seed([wire.asset("t1"), wire.asset("t2"), wire.asset("t3")])
    return api


Rejection = Callable[..., None]
