"""``/readyz``: is the server reachable, in the asked role, and within the asked lag.

Lag is measured two ways, as Patroni's users asked (patroni/patroni#1249): by WAL position
(bytes between the primary's last reported WAL end and what this standby has replayed) and by
time. Time lag is zero when the standby has replayed everything it was sent, so an idle primary
does not look like a lagging standby (the ``now() - pg_last_xact_replay_timestamp()`` trap).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg

from pgwarden.spec import Duration

ROLES = ("primary", "replica")
_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?\s*$", re.IGNORECASE)
_BYTE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}


class BadProbe(ValueError):
    """A query parameter of a probe is malformed; the message says which and how to write it."""


@dataclass(frozen=True)
class MaxLag:
    """``max_lag``: a duration (``10s``, ``500ms``) or a WAL distance (``16MB``, ``1048576``)."""

    text: str
    seconds: float | None = None
    bytes: int | None = None

    @classmethod
    def parse(cls, text: str) -> MaxLag:
        match = _BYTES.match(text)
        if match:
            unit = (match.group(2) or "b").lower()
            return cls(text, bytes=int(float(match.group(1)) * _BYTE_UNITS[unit]))
        try:
            return cls(text, seconds=Duration.parse(text).seconds)
        except ValueError:
            raise BadProbe(
                f"max_lag={text!r} is neither a duration nor a size: write e.g. "
                "'10s', '500ms', '2min' or '16MB', '512kB', '1048576' (bytes)"
            ) from None


def parse_role(text: str | None) -> str | None:
    if text is None or text == "":
        return None
    if text not in ROLES:
        raise BadProbe(f"role={text!r} is not a role: use 'primary' or 'replica'")
    return text


_READINESS = """
select pg_is_in_recovery() as replica,
       case when pg_is_in_recovery() then
         pg_wal_lsn_diff(greatest(pg_last_wal_receive_lsn(), r.latest_end_lsn),
                         pg_last_wal_replay_lsn())::bigint end as lag_bytes,
       case when not pg_is_in_recovery() then null
            when pg_last_wal_replay_lsn() >= greatest(pg_last_wal_receive_lsn(), r.latest_end_lsn)
              then 0.0
            else extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 end
         as lag_seconds
from (select 1) one left join pg_stat_wal_receiver r on true
"""


async def read_state(conn: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
    """Role and lag of the server ``conn`` is on (lag ``None`` on a primary, or when a
    standby has no WAL source to compare with)."""
    cur = await conn.execute(_READINESS)
    row = await cur.fetchone()
    assert row is not None
    replica, lag_bytes, lag_seconds = row
    return {
        "role": "replica" if replica else "primary",
        "lag_bytes": lag_bytes,
        "lag_seconds": None if lag_seconds is None else round(float(lag_seconds), 3),
    }


def judge(state: dict[str, Any], role: str | None, max_lag: MaxLag | None) -> list[str]:
    """Why the server is not ready for this probe (empty: ready)."""
    reasons = []
    if role is not None and state["role"] != role:
        reasons.append(f"the server is a {state['role']}, not a {role}")
    if max_lag is not None and state["role"] == "replica":
        if max_lag.bytes is not None:
            lag = state["lag_bytes"]
            if lag is None:
                reasons.append("lag in bytes is unknown (no WAL receiver)")
            elif lag > max_lag.bytes:
                reasons.append(f"replay lag {lag} bytes > {max_lag.text}")
        if max_lag.seconds is not None:
            lag = state["lag_seconds"]
            if lag is None:
                reasons.append("lag in time is unknown")
            elif lag > max_lag.seconds:
                reasons.append(f"replay lag {lag:.3f}s > {max_lag.text}")
    return reasons
