"""The live stream against a real server: server-sent events in position order,
resumable with Last-Event-ID, new events arriving while connected."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import orjson

from tests import wire
from tests.e2e.conftest import Server


def read_events(
    server: Server,
    key: str,
    count: int,
    headers: dict[str, str] | None = None,
    after: int | None = None,
) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    params = {} if after is None else {"after": after}
    with httpx.stream(
        "GET",
        f"{server.base}/v1/events/stream",
        params=params,
        headers={"Authorization": f"Bearer {key}", **(headers or {})},
        timeout=20,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        event_id = None
        for line in r.iter_lines():
            if line.startswith("id:"):
                event_id = int(line[3:].strip())
            elif line.startswith("data:"):
                data = orjson.loads(line[5:].strip())
                assert data["position"] == event_id
                got.append(data)
                if len(got) == count:
                    break
    return got


def test_stream_resumes_and_delivers_new_events(server: Server) -> None:
    admin = server.cli("keys", "create", "--name", "a", "--role", "admin").splitlines()[-1]
    auditor = server.cli("keys", "create", "--name", "au", "--role", "auditor").splitlines()[-1]
    h = {"Authorization": f"Bearer {admin}"}
    world = wire.reference_world()
    assert (
        httpx.post(f"{server.base}/v1/events:batch", json={"events": world}, headers=h).status_code
        == 201
    )

    first = read_events(server, auditor, 4)
    assert [e["position"] for e in first] == [1, 2, 3, 4]
    resumed = read_events(server, auditor, 3, headers={"Last-Event-ID": "4"})
    assert [e["position"] for e in resumed] == [5, 6, 7]

    def later() -> None:
        time.sleep(0.5)
        httpx.post(f"{server.base}/v1/events", json=wire.asset("t-live"), headers=h)

    threading.Thread(target=later).start()
    live = read_events(server, auditor, 1, after=len(world))
    assert live[0]["asset_ids"] == ["t-live"]
    assert (
        httpx.get(
            f"{server.base}/v1/events/stream", headers={"Authorization": "Bearer nope"}
        ).status_code
        == 401
    )
