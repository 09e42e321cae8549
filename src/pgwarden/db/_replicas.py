"""The replicas read-only sessions may use: a pool each, and their health and lag, measured in
the background so that choosing one costs no round trip.

A poller thread (started with the first read) measures, every ``check_every`` seconds, the
primary's WAL insert position, then on each replica whether it is a standby, what it has
replayed, how old its last replayed commit is and whether replay is paused: one statement
each, on connections of its own. A replica is *usable* while its last measure is recent and
its lag (:mod:`pgwarden.db._lag`) plus the age of that measure is within ``max_lag``: a
measure that stops coming (a replica that hangs, a stuck poller) makes it unusable by itself.
A replica whose connection fails under a session is marked down until a measure succeeds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, LiteralString

import psycopg
from psycopg import conninfo
from psycopg_pool import ConnectionPool

from pgwarden.db._connect import APPLICATION_NAME, redact_url
from pgwarden.db._lag import PrimaryHistory, format_lsn, settled, staleness

log = logging.getLogger("pgwarden.replicas")

_OPTIONS = "-c statement_timeout=2000"
"""Measures give up fast (and connect within 2 s): a replica that cannot answer so soon is
not one to read from."""

_PRIMARY: LiteralString = (
    "select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint,"
    " current_setting('wal_block_size')::int"
)
_REPLICA: LiteralString = (
    "select pg_is_in_recovery(), pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint,"
    " extract(epoch from now() - pg_last_xact_replay_timestamp())::float8,"
    " case when pg_is_in_recovery() then pg_is_wal_replay_paused() else false end"
)


@dataclass(frozen=True)
class ReplicaState:
    """A replica as last measured. ``lag_seconds``: an upper bound on how old the newest data
    it lacks may be (None: unknown); ``lag_bytes``: WAL it has still to replay."""

    name: str
    reachable: bool = False
    standby: bool = False
    replayed: int | None = None
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    paused: bool = False
    checked: float = float("-inf")
    """``time.monotonic()`` of the measure."""
    error: str | None = None

    def usable(self, now: float, max_lag: float) -> bool:
        return (
            self.reachable
            and self.standby
            and self.lag_seconds is not None
            and self.lag_seconds + (now - self.checked) <= max_lag
        )

    def verdict(self, now: float, max_lag: float) -> str:
        """One word for humans and scripts: ok, lagging, down, not-a-standby, unknown."""
        if self.checked == float("-inf"):
            return "unknown"
        if not self.reachable:
            return "down"
        if not self.standby:
            return "not-a-standby"
        return "ok" if self.usable(now, max_lag) else "lagging"

    def as_dict(self, now: float, max_lag: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.verdict(now, max_lag),
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3),
            "lag_bytes": self.lag_bytes,
            "replay_lsn": None if self.replayed is None else format_lsn(self.replayed),
            "replay_paused": self.paused,
            "checked_seconds_ago": None if self.checked == float("-inf") else now - self.checked,
            "error": self.error,
        }


def replica_name(url: str) -> str:
    """``host:port/dbname`` of ``url`` (no user, no password): what status lines and the
    metric's label show."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return redact_url(url)
    host = str(params.get("host") or "localhost")
    return f"{host}:{params.get('port') or 5432}/{params.get('dbname') or ''}"


class Replicas:
    """The replicas of one primary, their pools and their measured state (thread-safe)."""

    def __init__(
        self,
        primary_url: str,
        urls: Sequence[str],
        *,
        max_lag: float,
        replay_wait: float,
        check_every: float,
        pool_size: int = 10,
    ):
        self.primary_url = primary_url
        self.urls = tuple(urls)
        names = [replica_name(u) for u in self.urls]
        # Two entries for one server (as two users, say) get told apart: a name is a key.
        self.names = tuple(
            n if names.count(n) == 1 else f"{n}#{names[: i + 1].count(n)}"
            for i, n in enumerate(names)
        )
        self.max_lag, self.replay_wait, self.check_every = max_lag, replay_wait, check_every
        self.block_size = 8192
        self.history = PrimaryHistory(keep=max_lag + 4 * check_every + 5)
        self._states = tuple(ReplicaState(name) for name in self.names)
        self._pool_size = pool_size
        self._pools: list[ConnectionPool[Any] | None] = [None] * len(self.urls)
        self._probes: list[psycopg.Connection[Any] | None] = [None] * (len(self.urls) + 1)
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next = 0

    # -- state ----------------------------------------------------------------------------

    def states(self) -> tuple[ReplicaState, ...]:
        self._start()
        return self._states

    def candidates(self, after: int | None, avoid: frozenset[int] = frozenset()) -> list[int]:
        """The usable replicas to try, in order: for a read after a write (``after``, a
        settled WAL position), those known to have replayed it first, then the others by
        what they have replayed; otherwise in turn, to spread the reads."""
        states = self.states()
        now = time.monotonic()
        usable = [i for i, s in enumerate(states) if i not in avoid and s.usable(now, self.max_lag)]
        if after is not None:
            return sorted(usable, key=lambda i: -(states[i].replayed or 0))
        with self._lock:
            self._next += 1
            turn = self._next
        return usable[turn % len(usable) :] + usable[: turn % len(usable)] if usable else []

    def has_replayed(self, index: int, after: int) -> bool:
        replayed = self._states[index].replayed
        return replayed is not None and replayed >= after

    def mark_down(self, index: int, error: BaseException) -> None:
        """A session could not use the replica: none other will until a measure succeeds."""
        log.warning("replica %s failed: %s", self.names[index], error)
        with self._lock:
            states = list(self._states)
            states[index] = ReplicaState(
                self.names[index], checked=time.monotonic(), error=_reason(error)
            )
            self._states = tuple(states)

    # -- pools ----------------------------------------------------------------------------

    def pool(self, index: int) -> ConnectionPool[Any]:
        with self._lock:
            pool = self._pools[index]
            if pool is None:
                # No connection kept open for its own sake: a dead replica's pool then does
                # not retry in the background (min_size 0), and a borrow fails within 2 s.
                pool = self._pools[index] = ConnectionPool(
                    self.urls[index],
                    min_size=0,
                    max_size=self._pool_size,
                    kwargs={"application_name": APPLICATION_NAME, "connect_timeout": 2},
                    timeout=2,
                    open=True,
                    name=f"pgwarden-replica-{index}",
                )
            return pool

    # -- measures -------------------------------------------------------------------------

    def check(self) -> tuple[ReplicaState, ...]:
        """Measure the primary and every replica now (the poller does it every
        ``check_every`` seconds); returns and keeps the new states."""
        with self._check_lock:
            primary = self._sample_primary()
            states = tuple(self._measure(i, primary) for i in range(len(self.urls)))
            for index, (before, after) in enumerate(zip(self._states, states, strict=True)):
                pool = self._pools[index]
                if pool is not None and after.reachable and not before.reachable:
                    # Back from down (or a restart seen by a session): the connections kept
                    # from before are broken; replace them here, not under a caller.
                    pool.check()
            with self._lock:
                self._states = states
            return states

    def measure(self) -> tuple[ReplicaState, ...]:
        """:meth:`check`, twice when a replica is not usable at first: with no history yet, a
        replica a little behind has only its last commit's age as a bound (which an idle
        primary makes large); 50 ms later it has replayed the position just sampled."""
        now = time.monotonic()
        states = self.check()
        if any(not s.usable(now, self.max_lag) for s in states):
            time.sleep(min(self.check_every, 0.05))
            states = self.check()
        return states

    def _sample_primary(self) -> tuple[float, int] | None:
        try:
            row = self._ask(0, self.primary_url, _PRIMARY)
        except psycopg.Error as exc:
            log.warning("cannot measure the primary's WAL position: %s", _reason(exc))
            return None
        assert row is not None
        self.block_size = int(row[1])
        sample = (time.monotonic(), settled(int(row[0]), self.block_size))
        self.history.add(*sample)
        return sample

    def _measure(self, index: int, primary: tuple[float, int] | None) -> ReplicaState:
        name = self.names[index]
        try:
            row = self._ask(index + 1, self.urls[index], _REPLICA)
        except psycopg.Error as exc:
            return ReplicaState(name, checked=time.monotonic(), error=_reason(exc))
        now = time.monotonic()
        assert row is not None
        standby, replayed, replay_age, paused = row
        if not standby or replayed is None:
            return ReplicaState(name, reachable=True, checked=now, error="not in recovery")
        lag = staleness(
            now=now, replayed=replayed, primary=primary, history=self.history, replay_age=replay_age
        )
        return ReplicaState(
            name,
            reachable=True,
            standby=True,
            replayed=replayed,
            lag_bytes=None if primary is None else max(primary[1] - replayed, 0),
            lag_seconds=lag,
            paused=bool(paused),
            checked=now,
        )

    def _ask(self, slot: int, url: str, query: LiteralString) -> Any:
        """``query``'s row on the measuring connection of ``slot``; once more on a new one
        when a kept connection fails (a restarted server, an idle timeout): only a server
        that refuses a new connection, or fails on it, is down."""
        for fresh in (self._probes[slot] is None, True):
            try:
                return self._probe(slot, url).execute(query).fetchone()
            except psycopg.Error:
                self._drop_probe(slot)
                if fresh:
                    raise
        raise AssertionError("unreachable")

    def _probe(self, slot: int, url: str) -> psycopg.Connection[Any]:
        conn = self._probes[slot]
        if conn is None or conn.closed:
            conn = self._probes[slot] = psycopg.connect(
                url,
                autocommit=True,
                application_name=f"{APPLICATION_NAME}-replicas",
                connect_timeout=2,
                options=_OPTIONS,
            )
        return conn

    def _drop_probe(self, slot: int) -> None:
        conn, self._probes[slot] = self._probes[slot], None
        if conn is not None:
            conn.close()

    # -- the poller -----------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None and not self._stop.is_set():
                self.measure()  # the first read routes on a measure, not on nothing
                thread = threading.Thread(target=self._poll, name="pgwarden-replicas", daemon=True)
                thread.start()
                self._thread = thread

    def _poll(self) -> None:
        while not self._stop.wait(self.check_every):
            try:
                self.check()
            except Exception:  # the poller must outlive any one failure
                log.exception("measuring the replicas failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)
        with self._check_lock:
            for slot in range(len(self._probes)):
                self._drop_probe(slot)
        with self._lock:
            pools, self._pools = self._pools, [None] * len(self.urls)
        for pool in pools:
            if pool is not None:
                pool.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__
