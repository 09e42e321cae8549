"""The one shared sampler behind ``WS /live``.

One statement per interval, whatever the number of viewers: the sampler runs while at least one
subscriber listens, encodes each sample to JSON once, and hands the same text to every
subscriber's queue. A subscriber that falls behind loses its oldest samples, never holds the
others back. The last few minutes are kept so a new viewer's charts start full.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import psycopg

from pgwarden.api._link import Link, Unreachable
from pgwarden.api._sources import LiveSource, SourceState

HISTORY = 300
"""Samples kept for new viewers (5 minutes at one per second)."""
QUEUE = 30
"""Samples a slow viewer may fall behind before its oldest are dropped."""

# One statement, one round trip: everything a sample shows. The comment tags it for tests and
# for anyone reading pg_stat_statements (inside the statement: a leading one is not kept).
SAMPLE_SQL = """
select /* pgwarden:live-sample */ (select row_to_json(d) from (
          select xact_commit, xact_rollback, blks_hit, blks_read, tup_inserted, tup_updated,
                 tup_deleted, deadlocks, temp_bytes
          from pg_stat_database where datname = current_database()) d) as db,
       (select coalesce(json_object_agg(state, n), '{}') from (
          select coalesce(state, 'unknown') as state, count(*) as n from pg_stat_activity
          where backend_type = 'client backend' group by 1) s) as states,
       (select coalesce(json_object_agg(kind, n), '{}') from (
          select wait_event_type as kind, count(*) as n from pg_stat_activity
          where backend_type = 'client backend' and state = 'active'
            and wait_event_type is not null and pid <> pg_backend_pid() group by 1) w) as waits,
       (select extract(epoch from max(clock_timestamp() - xact_start))::float8
          from pg_stat_activity
          where backend_type = 'client backend' and pid <> pg_backend_pid()) as longest_xact,
       pg_is_in_recovery() as replica,
       -- as /readyz measures it (see _probes): by position, and by time only while behind
       case when pg_is_in_recovery() then
         pg_wal_lsn_diff(greatest(pg_last_wal_receive_lsn(), r.latest_end_lsn),
                         pg_last_wal_replay_lsn())::bigint
       else (select max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn))::bigint
             from pg_stat_replication) end as lag_bytes,
       case when pg_is_in_recovery() then
         case when pg_last_wal_replay_lsn() >= greatest(pg_last_wal_receive_lsn(), r.latest_end_lsn)
              then 0.0
              else extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 end
       else (select extract(epoch from max(replay_lag))::float8 from pg_stat_replication)
       end as lag_seconds,
       (select coalesce(json_agg(q), '[]') from (
          select pid, usename as "user", state, wait_event_type as wait,
                 round(extract(epoch from clock_timestamp() - query_start)::numeric, 1)
                   as seconds,
                 left(query, 200) as query
          from pg_stat_activity
          where backend_type = 'client backend' and state <> 'idle'
            and pid <> pg_backend_pid() and query_start is not null
          order by query_start limit 5) q) as top
from (select 1) as one left join pg_stat_wal_receiver r on true
"""


class Sampler:
    """Samples the database every ``interval`` seconds while anyone listens.

    ``subscribe()`` is an async iterator of JSON texts (first the kept history, then each new
    sample). Each sample has ``seq`` (one counter for all viewers), ``t`` (Unix time), ``up``,
    and when up: ``tps``, ``commits``, ``rollbacks`` (per second), ``cache_hit`` (0..1, or
    ``null`` when nothing was read), ``connections`` by state, ``waits`` by type,
    ``longest_xact`` (seconds), ``role``, ``lag_bytes``, ``lag_seconds``, ``top`` (the
    five longest-running statements) and ``extra``: one part per :class:`LiveSource` with
    something to show (``{"name", "title", "series": [{"name", "value", "unit"}]}``, or
    ``"error"``).
    """

    def __init__(self, url: str, interval: float = 1.0, sources: tuple[LiveSource, ...] = ()):
        self.interval = interval
        self.sources = [SourceState(s) for s in sources]
        self.link = Link(url, "live", statement_timeout=max(interval, 1.0))
        self.samples_taken = 0
        self.errors = 0
        self._seq = 0
        self._history: deque[str] = deque(maxlen=HISTORY)
        self._queues: set[asyncio.Queue[str]] = set()
        self._task: asyncio.Task[None] | None = None
        self._previous: tuple[float, dict[str, Any]] | None = None

    @property
    def viewers(self) -> int:
        return len(self._queues)

    async def subscribe(self) -> AsyncIterator[str]:
        """Samples as JSON texts for as long as the caller iterates."""
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=QUEUE)
        for text in list(self._history)[-QUEUE:]:
            queue.put_nowait(text)
        self._queues.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="pgwarden-live-sampler")
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.link.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        self._previous = None  # rates never span a pause with nobody watching
        while True:
            try:
                while self._queues:
                    started = loop.time()
                    self._publish(await self._sample())
                    await asyncio.sleep(max(0.0, self.interval - (loop.time() - started)))
            finally:
                await self.link.close()  # nobody watches: hold no connection
            if not self._queues:  # nobody came back while it closed (no await from here)
                return

    async def _sample(self) -> dict[str, Any]:
        now = time.time()
        try:
            row = await self.link.run(_read)
            extra = await self.link.run(self._read_sources) if self.sources else []
        except (Unreachable, psycopg.Error) as exc:
            self.errors += 1
            self._previous = None
            return {"t": now, "up": False, "error": str(exc)}
        self.samples_taken += 1
        sample = {"t": now, "up": True, **_rates(self._previous, now, row["db"])}
        self._previous = (now, row["db"])
        sample.update(
            connections=row["states"],
            waits=row["waits"],
            longest_xact=_round(row["longest_xact"]),
            role="replica" if row["replica"] else "primary",
            lag_bytes=row["lag_bytes"],
            lag_seconds=_round(row["lag_seconds"]),
            top=row["top"],
            extra=extra,
        )
        return sample

    async def _read_sources(self, conn: psycopg.AsyncConnection[Any]) -> list[dict[str, Any]]:
        parts = []
        for state in self.sources:
            try:
                values = await state.source.read(conn)
            except psycopg.Error as exc:  # its own failure only: the others still show
                state.previous = None
                parts.append(
                    {"name": state.source.name, "title": state.source.title, "error": str(exc)}
                )
                continue
            if values is not None:
                parts.append(state.part(time.time(), values))
        return parts

    def _publish(self, sample: dict[str, Any]) -> None:
        self._seq += 1
        text = json.dumps({"seq": self._seq, **sample}, default=str)
        self._history.append(text)
        for queue in self._queues:
            if queue.full():  # a slow viewer loses its oldest sample, not everyone's pace
                queue.get_nowait()
            queue.put_nowait(text)


async def _read(conn: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
    from psycopg.rows import dict_row

    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(SAMPLE_SQL)
        row = await cur.fetchone()
    assert row is not None
    return row


def _rates(
    previous: tuple[float, dict[str, Any]] | None, now: float, db: dict[str, Any] | None
) -> dict[str, Any]:
    if previous is None or db is None or previous[1] is None:
        return {"tps": None, "commits": None, "rollbacks": None, "cache_hit": None}
    then, old = previous
    elapsed = max(now - then, 1e-3)
    commits = max(db["xact_commit"] - old["xact_commit"], 0)
    rollbacks = max(db["xact_rollback"] - old["xact_rollback"], 0)
    hit = max(db["blks_hit"] - old["blks_hit"], 0)
    read = max(db["blks_read"] - old["blks_read"], 0)
    return {
        "tps": round((commits + rollbacks) / elapsed, 1),
        "commits": round(commits / elapsed, 1),
        "rollbacks": round(rollbacks / elapsed, 1),
        "cache_hit": round(hit / (hit + read), 4) if hit + read else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)
