"""The trading app's live view: pgwarden's ``WS /live`` samples, each with a ``trading`` part
(orders/s, fills/s, ingest rows/s, retries, the connection pool's use, market-data partition
sizes), and the same figures as JSON (``GET /stats``) and Prometheus text (``GET /metrics``).

This app subscribes to pgwarden's sampler and adds its in-process part (the service's own
counters, retries, the pool) to each sample it forwards: one database sample a second
whatever the viewers, plus a partition-size read every ``PARTITIONS_EVERY`` seconds. The
figures read from the database are also on pgwarden's own ``WS /live`` and dashboard, through
the ``LiveSource`` in ``_series.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from pgwarden.blueprints.trading.services import Trading

PARTITIONS_EVERY = 5.0

PARTITIONS_SQL = """
select p.relid::regclass::text as table, t.relid::regclass::text as partition,
       pg_total_relation_size(t.relid) as bytes,
       coalesce(s.n_live_tup, 0) as rows
from (values ('trading.ticks'::regclass), ('trading.bars'::regclass)) as p(relid)
cross join lateral pg_partition_tree(p.relid) t
left join pg_stat_user_tables s on s.relid = t.relid
where t.isleaf
order by 1, 2
"""


class Live:
    """Rates from the service counters between two calls, pool statistics, partition sizes."""

    def __init__(self, trading: Trading):
        self.trading = trading
        self._last: tuple[float, dict[str, int]] | None = None
        self._partitions: tuple[float, list[dict[str, Any]]] = (0.0, [])
        self._lock = asyncio.Lock()

    def pool(self) -> dict[str, int]:
        stats = self.trading.warden.pool.get_stats()
        keep = ("pool_min", "pool_max", "pool_size", "pool_available", "requests_waiting",
                "requests_num", "requests_queued", "requests_wait_ms", "usage_ms")  # fmt: skip
        return {k: int(stats.get(k, 0)) for k in keep}

    def partitions_now(self) -> list[dict[str, Any]]:
        with self.trading.warden.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(PARTITIONS_SQL)
            names = [d.name for d in cur.description or ()]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    async def part(self) -> dict[str, Any]:
        """The ``trading`` part of a sample (rates since the previous call)."""
        async with self._lock:
            now = time.monotonic()
            counts = self.trading.core.counters.snapshot()
            rates: dict[str, float | None] = {}
            if self._last is not None:
                took = max(now - self._last[0], 1e-6)
                for name, value in counts.items():
                    rates[f"{name}_per_s"] = round((value - self._last[1].get(name, 0)) / took, 1)
            self._last = (now, counts)
            if now - self._partitions[0] >= PARTITIONS_EVERY:
                self._partitions = (now, await run_in_threadpool(self.partitions_now))
            return {
                "totals": counts,
                "rates": rates,
                "pool": self.pool(),
                "partitions": self._partitions[1],
            }

    async def stream(self, websocket: WebSocket, sampler: Any) -> None:
        """Forward pgwarden's samples with the trading part added, until the viewer leaves."""
        await websocket.accept()
        samples = sampler.subscribe()
        receiver = asyncio.create_task(_drain(websocket))
        try:
            async with contextlib.aclosing(samples):
                while True:
                    nxt = asyncio.ensure_future(anext(samples))
                    await asyncio.wait({nxt, receiver}, return_when=asyncio.FIRST_COMPLETED)
                    if receiver.done():
                        nxt.cancel()
                        break
                    sample = json.loads(nxt.result())
                    sample["trading"] = await self.part()
                    await websocket.send_text(json.dumps(sample, default=str))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            receiver.cancel()

    def prometheus(self) -> str:
        """The counters, pool figures and partition sizes in Prometheus text format."""
        out = []
        for name, value in self.trading.core.counters.snapshot().items():
            metric = f"pgwarden_trading_{name}_total"
            out += [f"# TYPE {metric} counter", f"{metric} {value}"]
        for name, value in self.pool().items():
            metric = f"pgwarden_trading_pool_{name}"
            out += [f"# TYPE {metric} gauge", f"{metric} {value}"]
        out.append("# TYPE pgwarden_trading_partition_bytes gauge")
        for p in self._partitions[1] or self.partitions_now():
            out.append(
                f'pgwarden_trading_partition_bytes{{table="{p["table"]}",'
                f'partition="{p["partition"]}"}} {p["bytes"]}'
            )
        return "\n".join(out) + "\n"


async def _drain(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()
