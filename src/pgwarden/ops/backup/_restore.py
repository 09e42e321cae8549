"""Restore: choose the backup, refuse what cannot work before writing anything, rebuild the
data directory (checksums checked while extracting, incrementals combined, manifest
verified), copy the WAL it needs and let PostgreSQL replay to the point and promote."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pgwarden.errors import BackupError, RestoreRefused
from pgwarden.ops.backup import _wal
from pgwarden.ops.backup._catalog import BackupRecord, Repository, lsn_int, lsn_text
from pgwarden.ops.backup._instance import Instance
from pgwarden.ops.backup._tools import bin_dir_for, run
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


def chain(repo: Repository, record: BackupRecord) -> list[BackupRecord]:
    """The full backup and the incrementals leading to ``record``, oldest first."""
    by_id = {r.id: r for r in repo.records()}
    out = [record]
    while out[0].parent is not None:
        parent = by_id.get(out[0].parent)
        if parent is None:
            raise BackupError(
                f"backup {record.id} is incremental on {out[0].parent}, which is not catalogued"
            )
        out.insert(0, parent)
    return out


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


class _Hashing:
    """A read-only file wrapper hashing what passes through (tar extraction reads once)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data

    def drain(self) -> str:
        while chunk := self.raw.read(1 << 20):
            self.digest.update(chunk)
        return self.digest.hexdigest()


def extract(repo: Repository, record: BackupRecord, dest: Path) -> list[str]:
    """Rebuild ``record``'s own data directory in ``dest``; returns checksum problems."""
    problems: list[str] = []
    src = repo.backup_dir(record)
    dest.mkdir(parents=True, exist_ok=True)
    if record.format == "plain":
        shutil.copytree(src, dest, dirs_exist_ok=True, symlinks=True)
        files = [(f, dest / f.name) for f in record.files]
        for item, copied in files:
            digest = hashlib.sha256(copied.read_bytes()).hexdigest()
            if digest != item.sha256:
                problems.append(f"backup {record.id}: {item.name}: SHA-256 mismatch")
        return problems
    for item in record.files:
        path = src / item.name
        if not path.is_file():
            problems.append(f"backup {record.id}: file {path} is missing")
            continue
        if item.name == "backup_manifest":
            shutil.copyfile(path, dest / "backup_manifest")
            if hashlib.sha256(path.read_bytes()).hexdigest() != item.sha256:
                problems.append(f"backup {record.id}: backup_manifest: SHA-256 mismatch")
            continue
        into = dest / "pg_wal" if item.name.startswith("pg_wal.tar") else dest
        with path.open("rb") as raw:
            hashing = _Hashing(raw)
            with tarfile.open(fileobj=hashing, mode="r|*") as tar:  # type: ignore[call-overload]
                tar.extractall(into, filter="fully_trusted")
            if hashing.drain() != item.sha256:
                problems.append(
                    f"backup {record.id}: {item.name}: SHA-256 mismatch "
                    f"(the repository's copy changed after the backup)"
                )
    return problems


def rebuild(
    repo: Repository, record: BackupRecord, target: Path, bin_dir: Path, step: Step
) -> list[str]:
    """The data directory of ``record`` in ``target``, checked against its manifest."""
    members = chain(repo, record)
    problems: list[str] = []
    for member in members:
        if not repo.backup_dir(member).is_dir():
            raise BackupVerifyMissing(member, repo)
    if len(members) == 1:
        step("extract")
        problems += extract(repo, record, target)
    else:
        with tempfile.TemporaryDirectory(prefix="pgwarden-combine-") as tmp:
            dirs = []
            for member in members:
                step(f"extract {member.id}")
                where = Path(tmp) / member.id
                problems += extract(repo, member, where)
                dirs.append(where)
            if problems:
                return problems
            step("combine")
            target.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(target)
            run([bin_dir / "pg_combinebackup", *dirs, "-o", target, "--no-sync"])
            # pg_combinebackup takes no WAL: the newest backup's own WAL comes along.
            shutil.copytree(dirs[-1] / "pg_wal", target / "pg_wal", dirs_exist_ok=True)
    step("pg_verifybackup")
    # Even after a checksum mismatch: pg_verifybackup names the damaged file inside.
    try:
        run([bin_dir / "pg_verifybackup", "-q", "-n", target], timeout=3600)
    except BackupError as exc:
        problems.append(f"backup {record.id}: pg_verifybackup: {exc.message}")
    return problems


class BackupVerifyMissing(RestoreRefused):
    def __init__(self, record: BackupRecord, repo: Repository) -> None:
        super().__init__(
            f"backup {record.id}: its directory {repo.backup_dir(record)} is missing",
            hint="remove it from the catalog with pgwarden backup prune, or restore another",
        )


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
    timer = _Timer()
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
            instance.start(settings)
            try:
                instance.wait_promoted()
                reached = _reached(instance)
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


def _reached(instance: Instance) -> str | None:
    import psycopg

    with psycopg.connect(instance.url(), autocommit=True) as conn:
        row = conn.execute("select pg_last_xact_replay_timestamp()").fetchone()
    when = row[0] if row else None
    return when.astimezone(dt.UTC).isoformat() if when else None


class _Timer:
    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def __call__(self, name: str) -> _Timed:
        return _Timed(self, name)


class _Timed:
    def __init__(self, timer: _Timer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.started = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        spent = time.monotonic() - self.started
        self.timer.spent[self.name] = round(self.timer.spent.get(self.name, 0) + spent, 3)
