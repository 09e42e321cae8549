"""A lean HTTP/1.1 load generator: one process, ``--connections`` keep-alive connections on
asyncio streams, each sending the next request as soon as the last answer is read (closed
loop). Written for the benchmarks: a Python HTTP client library spends ~1 ms of CPU per
request, which on a small machine starves the server it is measuring; this one spends tens
of microseconds.

    python bench/_http_load.py PLAN.json

PLAN.json: ``{"host", "port", "seconds", "connections", "requests": [[method, path,
headers, body], ...]}``; connection *i* cycles through the requests from offset *i*. Prints
one JSON line: ``{"latencies_ms": [...], "statuses": {...}, "seconds": ..., "cpu_seconds": ...}``
(its own CPU during the load, not its start).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any


def encode(
    host: str, port: int, method: str, path: str, headers: dict[str, str], body: str
) -> bytes:
    payload = body.encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += [f"Content-Length: {len(payload)}", "", ""]
    return "\r\n".join(lines).encode() + payload


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def connection(
    host: str, port: int, requests: list[bytes], offset: int, deadline: float,
    latencies: list[float], statuses: Counter[int],
) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    try:
        while time.perf_counter() < deadline:
            request = requests[i % len(requests)]
            i += 1
            t0 = time.perf_counter()
            writer.write(request)
            status = await read_response(reader)
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[status] += 1
    finally:
        writer.close()


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    host, port = plan["host"], int(plan["port"])
    requests = [encode(host, port, m, p, h, b) for m, p, h, b in plan["requests"]]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    start = time.perf_counter()
    cpu = time.process_time()
    deadline = start + float(plan["seconds"])
    step = max(1, len(requests) // int(plan["connections"]))
    await asyncio.gather(
        *(
            connection(host, port, requests, c * step, deadline, latencies, statuses)
            for c in range(int(plan["connections"]))
        )
    )
    return {
        "latencies_ms": latencies,
        "statuses": {str(k): v for k, v in statuses.items()},
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
    }


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        result = asyncio.run(run(json.load(f)))
    print(json.dumps(result))
