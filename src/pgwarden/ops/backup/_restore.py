"""Restore: choose the backup, refuse what cannot work before writing anything, rebuild the
data directory (checksums checked while extracting, incrementals combined, manifest
verified), copy the WAL it needs and let PostgreSQL replay to the point and promote."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from pgwarden.errors import BackupError, RestoreRefused
from pgwarden.ops.backup import _wal
from pgwarden.ops.backup._catalog import BackupRecord, Repository, lsn_int, lsn_text
from pgwarden.ops.backup._instance import Instance
from pgwarden.ops.backup._rebuild import chain, rebuild
from pgwarden.ops.backup._tools import bin_dir_for, capture
from pgwarden.ops.backup._wal import Commit, Run

Step = Callable[[str], None]


@dataclass(frozen=True)
class Point:
    """Where a restore stops: ``latest`` (end of the archived WAL), a ``time``, an ``lsn`` or a
    transaction id (``xid``, that transaction included)."""

    kind: str = "latest"
    time: dt.datetime | None = None
    lsn: str | None = None
    xid: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("latest", "time", "lsn", "xid"):
            raise ValueError(f"unknown restore point kind {self.kind!r}")
        if self.kind == "lsn" and (self.lsn is None or "/" not in self.lsn):
            raise ValueError(f"{self.lsn!r} is not a WAL position (e.g. 0/3000100)")
        if self.kind == "time" and (self.time is None or self.time.tzinfo is None):
            raise ValueError("a restore time needs a time zone (e.g. 2026-05-01T12:00Z)")

    def describe(self) -> str:
        if self.kind == "time" and self.time is not None:
            return self.time.isoformat()
        return {"lsn": f"LSN {self.lsn}", "xid": f"xid {self.xid}"}.get(self.kind, "latest")


@dataclass(frozen=True)
class Window:
    """What a backup can reach: from its end to the newest commit of the WAL after it."""

    backup: str
    start_time: dt.datetime
    end_time: dt.datetime
    start_lsn: int
    end_lsn: int
    gap: str | None

    def text(self) -> str:
        gap = f"; WAL segment {self.gap} is missing, so nothing after it" if self.gap else ""
        return (
            f"{self.start_time.isoformat()} .. {self.end_time.isoformat()} "
            f"(LSN {lsn_text(self.start_lsn)} .. {lsn_text(self.end_lsn)}, from backup "
            f"{self.backup}{gap})"
        )


@dataclass
class Restored:
    """A finished restore: the backup used, the point asked and the one reached, timings."""

    backup: str
    target: Path
    point: str
    reached: str | None
    window: str
    breakdown: dict[str, float] = field(default_factory=dict)
    instance: Instance | None = None
    chain: list[str] = field(default_factory=list)
    """Dry run: the backups the restore would use (a full one, then incrementals)."""
    wal_segments: int = 0
    """Dry run: the archived WAL segments it would copy."""

    @property
    def seconds(self) -> float:
        return round(sum(self.breakdown.values()), 3)


def window(repo: Repository, record: BackupRecord, bin_dir: Path) -> tuple[Window, Run]:
    return window_in(repo.wal_dir, record, bin_dir)


def window_in(wal_dir: Path, record: BackupRecord, bin_dir: Path) -> tuple[Window, Run]:
    """``record``'s window given the WAL archived in ``wal_dir`` (plain segment names)."""
    seg = record.wal_segment_size
    first = _wal.segno_of(record.start_lsn, seg)
    run_ = _wal.contiguous(wal_dir, record.timeline, first, seg)
    stop = lsn_int(record.stop_lsn)
    newest: Commit | None = None
    if run_.last is not None and run_.last >= _wal.segno_of(stop, seg):
        newest = _wal.newest_commit(bin_dir, run_, seg, stop)
    end_time = newest.at if newest else record.stopped
    end_lsn = newest.lsn if newest else stop
    return Window(
        record.id, record.stopped, max(end_time, record.stopped), stop, end_lsn, run_.gap
    ), run_


def choose(
    repo: Repository,
    point: Point,
    backup_id: str | None,
    bin_dir_of: Callable[[int], Path],
) -> tuple[BackupRecord, Window, Run]:
    """The newest backup that can reach ``point`` (or the one named), with its window."""
    records = [r for r in repo.records() if r.engine == "builtin"]
    if backup_id is not None:
        records = [repo.get(backup_id)]
    if not records:
        raise RestoreRefused(f"the repository {repo.path} has no backup to restore")
    candidates = list(reversed(records))
    if point.kind == "time" and point.time is not None:
        candidates = [r for r in candidates if r.stopped <= point.time] or candidates[-1:]
    elif point.kind == "lsn" and point.lsn is not None:
        at = lsn_int(point.lsn)
        candidates = [r for r in candidates if lsn_int(r.stop_lsn) <= at] or candidates[-1:]
    record = candidates[0]
    if not repo.backup_dir(record).is_dir():
        raise RestoreRefused(
            f"backup {record.id}: its directory {repo.backup_dir(record)} is missing"
        )
    win, run_ = window(repo, record, bin_dir_of(record.major))
    check_inside(point, win)
    return record, win, run_


def check_inside(point: Point, win: Window) -> None:
    """Refuse a point outside ``win`` (the message gives the window)."""

    def refuse(what: str) -> None:
        raise RestoreRefused(
            f"{what} is outside the recoverable window {win.text()}",
            hint="pick a point inside the window, or --latest",
        )

    if point.kind == "time" and point.time is not None:
        if point.time < win.start_time:
            refuse(f"{point.time.isoformat()} (before the oldest usable backup ended)")
        # PostgreSQL stops a time target at the first commit after it: with none after it,
        # recovery would end unreached and the server refuse to start (Barman #926).
        if point.time >= win.end_time:
            refuse(
                f"{point.time.isoformat()} (not before the last archived transaction; "
                "--latest restores through it)"
            )
    elif point.kind == "lsn" and point.lsn is not None:
        at = lsn_int(point.lsn)
        if not win.start_lsn <= at <= win.end_lsn:
            refuse(f"LSN {point.lsn}")


def check_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RestoreRefused(
            f"the restore target {target} is not empty",
            hint="restore into a new or empty directory; pgwarden never overwrites data",
        )


_CONTROL_SETTINGS = {
    "max_connections setting": "max_connections",
    "max_worker_processes setting": "max_worker_processes",
    "max_wal_senders setting": "max_wal_senders",
    "max_prepared_xacts setting": "max_prepared_transactions",
    "max_locks_per_xact setting": "max_locks_per_transaction",
}


def control_settings(bin_dir: Path, data_dir: Path) -> dict[str, str]:
    """The source's values of the settings recovery must not start below (from the backup's
    ``pg_control``). A source started with, say, ``-c max_wal_senders=20`` left no trace of it
    in its configuration files, and recovery would abort on the default 10."""
    code, out = capture([bin_dir / "pg_controldata", "-D", data_dir], timeout=60)
    if code != 0:
        return {}
    found = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in _CONTROL_SETTINGS and value.strip().isdigit():
            found[_CONTROL_SETTINGS[key.strip()]] = value.strip()
    return found


def configure_recovery(target: Path, point: Point) -> None:
    lines = [
        "",
        "# pgwarden restore: the WAL this recovery needs was copied into pg_wal",
        "restore_command = 'false'",
        "recovery_target_action = 'promote'",
        "archive_mode = 'off'",
    ]
    if point.kind == "time" and point.time is not None:
        lines.append(f"recovery_target_time = '{point.time.isoformat()}'")
    elif point.kind == "lsn" and point.lsn is not None:
        lines.append(f"recovery_target_lsn = '{lsn_text(lsn_int(point.lsn))}'")
    elif point.kind == "xid" and point.xid is not None:
        lines.append(f"recovery_target_xid = '{int(point.xid)}'")
    with (target / "postgresql.auto.conf").open("a") as fh:
        fh.write("\n".join(lines) + "\n")
    (target / "standby.signal").unlink(missing_ok=True)
    (target / "recovery.signal").touch()


def restore(
    repo: Repository,
    target: Path,
    point: Point,
    *,
    backup_id: str | None = None,
    keep_running: bool = False,
    bin_dir: Path | None = None,
    step: Step = lambda _s: None,
    settings: dict[str, str] | None = None,
    dry_run: bool = False,
) -> Restored:
    """Restore into ``target`` and replay to ``point``; the server is promoted, then stopped
    unless ``keep_running``. Refuses (changing nothing) a non-empty target, a point outside
    the window and a WAL gap before the point. ``dry_run``: only choose and check."""
    target = target.absolute()
    check_target(target)
    timer = Timer()
    with timer("choose"):
        record, win, run_ = choose(repo, point, backup_id, lambda m: bin_dir_for(m, bin_dir))
    binaries = bin_dir_for(record.major, bin_dir)
    upto = None
    if point.kind in ("time", "lsn") and run_.last is not None:
        upto = run_.last
    if win.gap and point.kind == "latest":
        raise RestoreRefused(
            f"the WAL archive has a gap: segment {win.gap} is missing after backup {record.id}",
            hint=f"restore to a point before it: the window is {win.text()}",
        )
    if dry_run:
        return Restored(
            record.id, target, point.describe(), None, win.text(), timer.spent,
            chain=[r.id for r in chain(repo, record)], wal_segments=len(run_.files),
        )  # fmt: skip
    created = not target.exists()
    try:
        with timer("rebuild"):
            problems = rebuild(repo, record, target, binaries, step)
        if problems:
            raise BackupError("; ".join(problems))
        with timer("wal"):
            step("copy WAL")
            (target / "pg_wal").mkdir(exist_ok=True)
            _wal.copy_segments(run_.files, target / "pg_wal", record.wal_segment_size, upto)
            configure_recovery(target, point)
        instance = Instance(target, binaries)
        with timer("replay"):
            step("replay WAL and promote")
            instance.start({**control_settings(binaries, target), **(settings or {})})
            try:
                instance.wait_promoted()
                reached = replayed_until(instance)
            except BaseException:
                instance.stop("immediate")
                raise
        if not keep_running:
            with timer("stop"):
                instance.stop()
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for child in target.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    return Restored(
        record.id,
        target,
        point.describe(),
        reached,
        win.text(),
        timer.spent,
        instance if keep_running else None,
    )


def replayed_until(instance: Instance) -> str | None:
    """The time of the last transaction the server replayed."""
    with psycopg.connect(instance.url(), autocommit=True) as conn:
        row = conn.execute("select pg_last_xact_replay_timestamp()").fetchone()
    when = row[0] if row else None
    return when.astimezone(dt.UTC).isoformat() if when else None


class Timer:
    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def __call__(self, name: str) -> Timed:
        return Timed(self, name)


class Timed:
    def __init__(self, timer: Timer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.started = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        spent = time.monotonic() - self.started
        self.timer.spent[self.name] = round(self.timer.spent.get(self.name, 0) + spent, 3)
