"""The repository's catalog: one JSON file listing every complete backup, written atomically.

A backup enters the catalog only after its files are complete and checksummed, so a killed
run leaves at most a ``*.partial`` directory, removed by the next run. The catalog is mirrored
into ``warden.backups`` of the source database, where ``health()`` reads it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg

from pgwarden.errors import BackupError

CATALOG = "catalog.json"


def lsn_int(lsn: str) -> int:
    """``'16/B374D848'`` -> integer position."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def lsn_text(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@dataclass(frozen=True)
class BackupFile:
    """One file of a backup in the repository, with its size and SHA-256."""

    name: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Verification:
    """The outcome of the newest restore drill of a backup."""

    at: str
    ok: bool
    target: str | None
    reached: str | None
    """The time of the last transaction the drill's replay applied (its target)."""
    rto_seconds: float
    breakdown: dict[str, float]
    databases: int = 0
    tables: int = 0
    indexes: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    recoverable_until: str | None = None
    """The newest commit the archive reached at the drill: the RPO then."""


@dataclass(frozen=True)
class BackupRecord:
    """One complete backup. Times are the server's clock (UTC, ISO 8601); ``stop_time`` is
    read after the backup ended, so any point after it is consistent."""

    id: str
    engine: str
    kind: str
    parent: str | None
    format: str
    compression: str
    major: int
    system_identifier: str
    timeline: int
    wal_segment_size: int
    start_lsn: str
    stop_lsn: str
    start_time: str
    stop_time: str
    seconds: float
    bytes: int
    files: list[BackupFile]
    verification: Verification | None = None

    @property
    def stopped(self) -> dt.datetime:
        return parse_time(self.stop_time)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BackupRecord:
        files = [BackupFile(**f) for f in data.get("files", [])]
        ver = data.get("verification")
        return cls(
            **{
                **data,
                "files": files,
                "verification": Verification(**ver) if ver else None,
            }
        )


class Repository:
    """A backup repository directory: ``catalog.json``, ``backups/<id>/`` and ``wal/``."""

    def __init__(self, path: Path, wal_dir: Path | None = None) -> None:
        self.path = path.absolute()
        self.backups_dir = self.path / "backups"
        self.wal_dir = (wal_dir or self.path / "wal").absolute()

    def __repr__(self) -> str:
        return f"Repository({str(self.path)!r})"

    def ensure(self) -> None:
        for directory in (self.path, self.backups_dir, self.wal_dir):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive use of the catalog (one backup, verify or prune at a time)."""
        self.ensure()
        with (self.path / ".lock").open("a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BackupError(
                    f"another pgwarden process is using the repository {self.path}",
                    hint="wait for the running backup, verify or prune to end",
                ) from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def records(self) -> list[BackupRecord]:
        """Every catalogued backup, oldest first."""
        try:
            data = json.loads((self.path / CATALOG).read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise BackupError(f"cannot read {self.path / CATALOG}: {exc}") from exc
        records = [BackupRecord.from_json(item) for item in data.get("backups", [])]
        return sorted(records, key=lambda r: (r.stop_time, r.id))

    def get(self, backup_id: str) -> BackupRecord:
        for record in self.records():
            if record.id == backup_id:
                return record
        known = ", ".join(r.id for r in self.records()[-5:]) or "none"
        raise BackupError(
            f"no backup {backup_id!r} in {self.path / CATALOG}",
            hint=f"newest backups: {known} (pgwarden backup list)",
        )

    def write(self, records: list[BackupRecord]) -> None:
        """Replace the catalog atomically (temporary file, fsync, rename)."""
        target = self.path / CATALOG
        temp = target.with_suffix(".json.tmp")
        body = {"version": 1, "backups": [r.to_json() for r in records]}
        with temp.open("w") as fh:
            json.dump(body, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        temp.replace(target)
        _fsync_dir(self.path)

    def add(self, record: BackupRecord) -> None:
        self.write([*self.records(), record])

    def update(self, record: BackupRecord) -> None:
        self.write([record if r.id == record.id else r for r in self.records()])

    def remove(self, backup_id: str) -> None:
        self.write([r for r in self.records() if r.id != backup_id])
        shutil.rmtree(self.backups_dir / backup_id, ignore_errors=True)

    def backup_dir(self, record: BackupRecord | str) -> Path:
        return self.backups_dir / (record if isinstance(record, str) else record.id)

    def clean_partials(self) -> list[str]:
        """Remove what killed runs left (``*.partial``); returns their names."""
        gone = []
        for entry in self.backups_dir.glob("*.partial"):
            shutil.rmtree(entry, ignore_errors=True)
            gone.append(entry.name)
        return gone


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_MIRROR_DDL = """
create schema if not exists warden;
create table if not exists warden.backups (
    id text primary key,
    engine text not null,
    kind text not null,
    repository text not null,
    slot text,
    started_at timestamptz not null,
    stopped_at timestamptz not null,
    start_lsn pg_lsn not null,
    stop_lsn pg_lsn not null,
    bytes bigint not null,
    seconds double precision not null,
    verified_at timestamptz,
    verified_ok boolean,
    rto_seconds double precision,
    recoverable_until timestamptz,
    removed_at timestamptz
);
comment on table warden.backups is
    'pgwarden backup catalog mirror (the repository''s catalog.json is the truth)';
"""


def mirror(
    conn: psycopg.Connection[Any],
    repo: Repository,
    records: list[BackupRecord],
    *,
    slot: str | None,
    removed: list[str] | None = None,
) -> None:
    """Upsert ``records`` into ``warden.backups`` (and mark ``removed`` ids as such)."""
    with conn.transaction():
        conn.execute(_MIRROR_DDL)
        for r in records:
            ver = r.verification
            conn.execute(
                """insert into warden.backups as b (id, engine, kind, repository, slot,
                       started_at, stopped_at, start_lsn, stop_lsn, bytes, seconds,
                       verified_at, verified_ok, rto_seconds, recoverable_until)
                   values (%s, %s, %s, %s, %s, %s, %s, %s::pg_lsn, %s::pg_lsn, %s, %s,
                       %s, %s, %s, %s)
                   on conflict (id) do update set verified_at = excluded.verified_at,
                       verified_ok = excluded.verified_ok, rto_seconds = excluded.rto_seconds,
                       recoverable_until = excluded.recoverable_until, slot = excluded.slot,
                       removed_at = null""",
                (
                    r.id,
                    r.engine,
                    r.kind,
                    str(repo.path),
                    slot,
                    r.start_time,
                    r.stop_time,
                    r.start_lsn,
                    r.stop_lsn,
                    r.bytes,
                    r.seconds,
                    ver.at if ver else None,
                    ver.ok if ver else None,
                    ver.rto_seconds if ver else None,
                    ver.recoverable_until if ver else None,
                ),
            )
        if removed:
            conn.execute(
                "update warden.backups set removed_at = now() where id = any(%s)", (removed,)
            )


def with_verification(record: BackupRecord, ver: Verification) -> BackupRecord:
    return replace(record, verification=ver)
