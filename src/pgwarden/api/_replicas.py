"""``/metrics`` of the replicas the served ``Warden`` reads from (``[database] replicas``): the
measures its router keeps (no scrape adds a round trip to a replica)."""

from __future__ import annotations

import asyncio
import time

from prometheus_client.core import GaugeMetricFamily, Metric

from pgwarden.db import Replicas


async def replica_metrics(replicas: Replicas | None) -> list[Metric]:
    if replicas is None:
        return []
    states = await asyncio.to_thread(replicas.states)  # the first call measures: off the loop
    now = time.monotonic()
    lag = GaugeMetricFamily(
        "pgwarden_replica_lag_seconds",
        "Upper bound on how old the newest data a replica lacks may be (NaN: unknown).",
        labels=["replica"],
    )
    lag_bytes = GaugeMetricFamily(
        "pgwarden_replica_lag_bytes", "WAL a replica has still to replay.", labels=["replica"]
    )
    usable = GaugeMetricFamily(
        "pgwarden_replica_usable",
        "Whether read-only sessions may use the replica (reachable, a standby, within max_lag).",
        labels=["replica"],
    )
    for state in states:
        nan = float("nan")
        lag.add_metric([state.name], nan if state.lag_seconds is None else state.lag_seconds)
        lag_bytes.add_metric([state.name], nan if state.lag_bytes is None else state.lag_bytes)
        usable.add_metric([state.name], 1 if state.usable(now, replicas.max_lag) else 0)
    return [lag, lag_bytes, usable]
