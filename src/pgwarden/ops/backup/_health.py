"""Backup health as the database sees it (``warden.backups`` and the WAL slot): what
``status``, ``doctor`` and metrics show, without access to the repository."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from pgwarden.spec import Spec

if TYPE_CHECKING:
    from pgwarden.warden import Warden


@dataclass(frozen=True)
class BackupHealth:
    """Ages in seconds (``None`` when there is no backup / no verified backup / no slot).

    ``wal_lag_bytes`` is how much WAL the server has written that the archive's slot has not
    confirmed: the data a restore could not reach right now (the live RPO, in bytes).
    """

    backups: int
    newest_backup: str | None
    newest_backup_age: float | None
    last_verified_age: float | None
    last_verified_ok: bool | None
    recoverable_until: dt.datetime | None
    rto_seconds: float | None
    wal_slot: str | None
    wal_lag_bytes: int | None
    wal_streaming: bool

    def problems(self, max_age: float | None = None) -> list[str]:
        """Plain sentences for what needs attention (empty when healthy)."""
        out = []
        if self.newest_backup_age is None:
            out.append("no backup has been taken")
        elif max_age is not None and self.newest_backup_age > max_age:
            out.append(f"the newest backup is {self.newest_backup_age / 3600:.1f} h old")
        if self.backups and self.last_verified_age is None:
            out.append("no backup has been verified by a restore drill")
        if self.last_verified_ok is False:
            out.append("the last restore drill failed")
        if self.wal_slot is not None and not self.wal_streaming:
            out.append(f"no WAL is being streamed from slot {self.wal_slot}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "problems": self.problems()}


def health(source: Warden | str | psycopg.Connection[Any]) -> BackupHealth:
    """Backup health of the database behind ``source`` (a Warden, a URL or a connection),
    read from ``warden.backups`` and ``pg_replication_slots``: no repository access needed,
    so status, doctor and metrics can call it on any database pgwarden backs up."""
    if isinstance(source, psycopg.Connection):
        return _read(source)
    url = source if isinstance(source, str) else source.url
    with psycopg.connect(url, autocommit=True) as conn:
        return _read(conn)


def _read(conn: psycopg.Connection[Any]) -> BackupHealth:
    exists = conn.execute("select to_regclass('warden.backups') is not null").fetchone()
    if not exists or not exists[0]:
        return BackupHealth(0, None, None, None, None, None, None, None, None, False)
    row = conn.execute(
        """with live as (select * from warden.backups where removed_at is null),
                newest as (select * from live order by stopped_at desc limit 1),
                checked as (select * from live where verified_at is not null
                             order by verified_at desc limit 1)
           select (select count(*) from live),
                  (select id from newest),
                  extract(epoch from now() - (select stopped_at from newest))::float8,
                  extract(epoch from now() - (select verified_at from checked))::float8,
                  (select verified_ok from checked),
                  (select max(recoverable_until) from live),
                  (select rto_seconds from checked),
                  (select slot from newest)"""
    ).fetchone()
    assert row is not None
    slot = row[7]
    lag, streaming = None, False
    if slot is not None:
        found = conn.execute(
            """select pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, active
                 from pg_replication_slots where slot_name = %s""",
            (slot,),
        ).fetchone()
        if found is not None:
            lag, streaming = found[0], bool(found[1])
    return BackupHealth(
        int(row[0]), row[1], row[2], row[3], row[4], row[5], row[6], slot, lag, streaming
    )


def status_lines(conn: psycopg.Connection[Any], spec: Spec) -> list[str]:
    """``pgwarden status`` lines (entry point ``pgwarden.status``): backup age, last drill,
    WAL lag, and what needs attention; nothing when the file has no ``[backup]``."""
    if "backup" not in spec.sections:
        return []
    from pgwarden.ops.backup._config import BackupSection

    state = _read(conn)
    max_age = spec.section("backup", BackupSection).max_age.seconds

    def hours(seconds: float | None) -> str:
        return "never" if seconds is None else f"{seconds / 3600:.1f} h ago"

    lines = [
        f"backup: {state.backups} backups, newest {hours(state.newest_backup_age)}, "
        f"last restore drill {hours(state.last_verified_age)}"
        + ("" if state.wal_lag_bytes is None else f", WAL lag {state.wal_lag_bytes} bytes")
    ]
    lines += [f"backup: {problem}" for problem in state.problems(max_age)]
    return lines
