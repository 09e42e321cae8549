"""The built-in engine's backups: ``pg_basebackup`` into a ``*.partial`` directory, checksums,
then an atomic entry in the catalog (full, or incremental on PostgreSQL 17+)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from pgwarden.errors import BackupError
from pgwarden.ops.backup._catalog import BackupFile, BackupRecord, Repository
from pgwarden.ops.backup._config import BackupSection
from pgwarden.ops.backup._tools import Tool, bin_dir_for, libpq_args
from pgwarden.ops.backup._wal import catch_up, ensure_slot

Progress = Callable[[int, int | None], None]
"""``progress(done_bytes, total_bytes)``."""

_PROGRESS = re.compile(r"(\d+)/(\d+) kB")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """What a backup needs to know about the server it copies."""

    major: int
    system_identifier: str
    timeline: int
    wal_segment_size: int
    summarize_wal: bool
    tablespaces: int

    @classmethod
    def read(cls, conn: psycopg.Connection[Any]) -> Source:
        row = conn.execute(
            """select current_setting('server_version_num')::int / 10000,
                      (select system_identifier::text from pg_control_system()),
                      (select timeline_id from pg_control_checkpoint()),
                      (select setting::bigint from pg_settings where name = 'wal_segment_size'),
                      coalesce(current_setting('summarize_wal', true), 'off') = 'on',
                      (select count(*) from pg_tablespace
                        where spcname not in ('pg_default', 'pg_global'))"""
        ).fetchone()
        assert row is not None
        return cls(int(row[0]), row[1], int(row[2]), int(row[3]), bool(row[4]), int(row[5]))


def server_now(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("select clock_timestamp()").fetchone()
    assert row is not None
    when: dt.datetime = row[0]
    return when.astimezone(dt.UTC).isoformat()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _Follower:
    """Hashes ``base.tar*`` while pg_basebackup writes it (sequentially, never seeking back),
    on the other core, so the checksum costs no second pass. ``pg_wal.tar`` is hashed after:
    its headers are rewritten when each segment closes."""

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self.done = threading.Event()
        self.result: dict[str, str] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        path = None
        while path is None:
            found = sorted(self.staging.glob("base.tar*"))
            if found:
                path = found[0]
            elif self.done.wait(0.05):
                return
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if chunk:
                    digest.update(chunk)
                elif self.done.is_set():
                    chunk = fh.read()  # whatever landed between the last read and the end
                    if not chunk:
                        break
                    digest.update(chunk)
                else:
                    time.sleep(0.02)
        self.result[path.name] = digest.hexdigest()

    def finish(self) -> dict[str, str]:
        self.done.set()
        self.thread.join()
        return self.result


def _wal_range(manifest: Path) -> tuple[int, str, str]:
    # The manifest is JSON of a few MB at most (one line per file), so it is read whole.
    ranges = json.loads(manifest.read_text())["WAL-Ranges"]
    return int(ranges[0]["Timeline"]), ranges[0]["Start-LSN"], ranges[-1]["End-LSN"]


def choose_kind(
    section: BackupSection,
    source: Source,
    records: list[BackupRecord],
    requested: str | None,
    now: dt.datetime,
) -> tuple[str, BackupRecord | None]:
    """``full`` or ``incremental`` (and its parent) for the next backup."""
    mine = [
        r
        for r in records
        if r.engine == "builtin"
        and r.system_identifier == source.system_identifier
        and r.major == source.major
    ]
    parent = mine[-1] if mine else None
    if requested == "full" or parent is None:
        return "full", None
    possible = source.major >= 17 and source.summarize_wal
    if requested == "incremental" and not possible:
        raise BackupError(
            "an incremental backup needs PostgreSQL 17+ with summarize_wal = on "
            f"(the server is {source.major}, summarize_wal "
            f"{'on' if source.summarize_wal else 'off'})",
            hint="ALTER SYSTEM SET summarize_wal = on; SELECT pg_reload_conf(); "
            "(no restart), or take a full backup",
        )
    if requested is None:
        last_full = next((r for r in reversed(mine) if r.kind == "full"), None)
        due = (
            last_full is None
            or (now - last_full.stopped).total_seconds() >= section.full_every.seconds
        )
        if not (possible and section.incremental) or due:
            return "full", None
    return "incremental", parent


def take(
    repo: Repository,
    section: BackupSection,
    url: str,
    *,
    kind: str | None = None,
    progress: Progress | None = None,
    backup_id: str | None = None,
) -> BackupRecord:
    """Take one backup into ``repo`` and add it to the catalog; returns its record."""
    if section.encryption is not None:
        raise BackupError(
            "the built-in engine does not encrypt backups",
            hint='use engine = "pgbackrest" (its repository cipher), or encrypt the '
            "repository's file system",
        )
    with psycopg.connect(url, autocommit=True) as conn:
        source = Source.read(conn)
        if source.tablespaces:
            raise BackupError(
                f"the server has {source.tablespaces} tablespace(s) besides pg_default; the "
                "built-in engine backs up clusters without extra tablespaces",
                hint='use engine = "pgbackrest"',
            )
        bin_dir = bin_dir_for(source.major, section.bin_dir)
        with repo.locked():
            repo.clean_partials()
            records = repo.records()
            now = dt.datetime.now(dt.UTC)
            kind, parent = choose_kind(section, source, records, kind, now)
            backup_id = backup_id or _new_id(repo, records, now, kind)
            staging = repo.backups_dir / f"{backup_id}.partial"
            staging.mkdir(mode=0o700)
            if section.wal == "stream":
                ensure_slot(url, section.slot)
            start_time = server_now(conn)
            started = time.monotonic()
            follower = _Follower(staging) if section.format == "tar" else None
            try:
                _basebackup(bin_dir, url, section, staging, parent, repo, progress)
            except BaseException:
                if follower is not None:
                    follower.finish()
                shutil.rmtree(staging, ignore_errors=True)
                raise
            seconds = time.monotonic() - started
            stop_time = server_now(conn)
            if follower is not None:
                hashed = follower.finish()
                files = [
                    BackupFile(p.name, p.stat().st_size, hashed.get(p.name) or sha256_file(p))
                    for p in sorted(staging.iterdir())
                    if p.is_file()
                ]
            else:
                files = _plain_files(staging)
            timeline, start_lsn, stop_lsn = _wal_range(staging / "backup_manifest")
            record = BackupRecord(
                id=backup_id,
                engine="builtin",
                kind=kind,
                parent=parent.id if parent else None,
                format=section.format,
                compression=section.compression,
                major=source.major,
                system_identifier=source.system_identifier,
                timeline=timeline,
                wal_segment_size=source.wal_segment_size,
                start_lsn=start_lsn,
                stop_lsn=stop_lsn,
                start_time=start_time,
                stop_time=stop_time,
                seconds=round(seconds, 3),
                bytes=_du(staging),
                files=files,
            )
            _fsync_tree(staging)
            staging.rename(repo.backup_dir(backup_id))
            repo.add(record)
        # WAL up to now, so the backup is restorable past its end even without `backup wal`.
        if section.wal == "stream":
            catch_up(bin_dir, url, repo.wal_dir, section.slot, source.wal_segment_size)
    return record


def _basebackup(
    bin_dir: Path,
    url: str,
    section: BackupSection,
    staging: Path,
    parent: BackupRecord | None,
    repo: Repository,
    progress: Progress | None,
) -> None:
    conninfo, env = libpq_args(url)
    argv: list[str | Path] = [
        bin_dir / "pg_basebackup",
        "-d",
        conninfo,
        "-D",
        staging,
        "-F",
        "t" if section.format == "tar" else "p",
        "-X",
        "stream",
        "-c",
        "fast",
        "--no-sync",
        "-P",
        "-l",
        f"pgwarden {staging.name[:-8]}",
    ]
    if section.format == "tar":
        argv += ["--compress", section.compression]
    if section.max_rate:
        argv += ["-r", section.max_rate]
    if parent is not None:
        argv += ["--incremental", _manifest_of(repo, parent)]

    def on_line(line: str) -> None:
        match = _PROGRESS.search(line)
        if match and progress is not None:
            progress(int(match.group(1)) * 1024, int(match.group(2)) * 1024)

    Tool(argv, env=env, on_line=on_line, guard=True).wait()


def _new_id(repo: Repository, records: list[BackupRecord], now: dt.datetime, kind: str) -> str:
    """``20260501T120000ZF`` (F full, I incremental), made unique within the second."""
    base = now.strftime("%Y%m%dT%H%M%SZ") + ("F" if kind == "full" else "I")
    taken = {r.id for r in records}
    candidate, n = base, 1
    while candidate in taken or repo.backup_dir(candidate).exists():
        n += 1
        candidate = f"{base}{n}"
    return candidate


def _manifest_of(repo: Repository, record: BackupRecord) -> Path:
    path = repo.backup_dir(record) / "backup_manifest"
    if not path.is_file():
        raise BackupError(
            f"backup {record.id}: {path} is missing, so no incremental backup can build on it",
            hint="take a full backup: pgwarden backup run --full",
        )
    return path


def _plain_files(staging: Path) -> list[BackupFile]:
    # A plain backup's per-file checksums are in its manifest; the manifest's own SHA-256
    # (kept here) pins them.
    manifest = staging / "backup_manifest"
    return [BackupFile("backup_manifest", manifest.stat().st_size, sha256_file(manifest))]


def _du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, names in os.walk(path):
        total += sum(os.lstat(os.path.join(dirpath, n)).st_size for n in names)
    return total


def _fsync_tree(path: Path) -> None:
    # pg_basebackup --no-sync: one pass here instead of its per-file syncs during the copy.
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
