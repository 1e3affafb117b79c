"""A load generator process: N appends at a given concurrency over HTTP/1.1 keep-alive.

A deliberately minimal asyncio client (pre-encoded requests, Content-Length framing):
on a 2-core machine the client shares the CPU with the server, and a heavyweight
client would measure itself. Run as
``python -m benchmarks.load BASE KEY CONCURRENCY COUNT PREFIX ASSETS``; prints one JSON
line: {"events": n, "seconds": s, "errors": e, "status": {...}}."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from urllib.parse import urlsplit


def body(prefix: str, i: int, assets: int) -> dict[str, object]:
    a, b = ("iq-army", "iq-9th") if (i // assets) % 2 == 0 else ("iq-9th", "iq-army")
    return {
        "event_id": f"{prefix}-{i}",
        "type": "custody_transferred",
        "asset_ids": [f"t{i % assets}"],
        "occurred_at": "2015-01-01T00:00:00Z",
        "reporter": "iq-army",
        "source": {"kind": "bench", "ref": f"{prefix}-{i}"},
        "confidence": "confirmed",
        "payload": {
            "from_party": a,
            "to_party": b,
            "reason": "rotation",
            "condition": "operational",
        },
    }


def request(host: str, key: str, payload: bytes) -> bytes:
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def main(base: str, key: str, concurrency: int, count: int, prefix: str, assets: int) -> None:
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    requests = [
        request(host, key, json.dumps(body(prefix, i, assets)).encode()) for i in range(count)
    ]
    status: Counter[int] = Counter()
    next_i = 0

    async def worker() -> None:
        nonlocal next_i
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_i < count:
                i = next_i
                next_i += 1
                writer.write(requests[i])
                status[await read_response(reader)] += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    ok = status[201]
    print(
        json.dumps({"events": ok, "seconds": seconds, "errors": count - ok, "status": dict(status)})
    )


if __name__ == "__main__":
    base, key, c, n, prefix, assets = sys.argv[1:7]
    asyncio.run(main(base, key, int(c), int(n), prefix, int(assets)))
