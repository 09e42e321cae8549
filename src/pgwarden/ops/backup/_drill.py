"""``verify``: a restore drill. The backup is restored into a throwaway server with matching
binaries, replayed to a random commit inside its window, then every database is checked:
``amcheck`` on every btree index and every table, row counts, and pgwarden's ledger drift
(the restored database must still match the declaration). The timings are the RTO; the
newest commit the archive reaches is the RPO."""

from __future__ import annotations

import datetime as dt
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql

from pgwarden.errors import BackupError
from pgwarden.ops.backup import _wal
from pgwarden.ops.backup._catalog import BackupRecord, Repository, Verification, lsn_int
from pgwarden.ops.backup._restore import Point, Restored, Step, Window, restore, window
from pgwarden.ops.backup._tools import bin_dir_for
from pgwarden.ops.backup._wal import Commit, Run
from pgwarden.spec import Spec


@dataclass
class DrillReport:
    """What one drill found. ``ok`` only when no problem was found."""

    backup: str | None
    problems: list[str] = field(default_factory=list)
    target: str | None = None
    reached: str | None = None
    recoverable_until: str | None = None
    rto_seconds: float = 0.0
    breakdown: dict[str, float] = field(default_factory=dict)
    databases: int = 0
    tables: int = 0
    indexes: int = 0
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


def presence(repo: Repository, max_age: float | None, now: dt.datetime) -> list[str]:
    """Cheap checks of the whole catalog: each backup's directory and files are there with
    their sizes, and the newest backup is not older than ``max_age`` seconds."""
    problems = []
    records = repo.records()
    for r in records:
        where = repo.backup_dir(r)
        if not where.is_dir():
            problems.append(f"backup {r.id}: its directory {where} is missing")
            continue
        for f in r.files:
            path = where / f.name
            if not path.is_file():
                problems.append(f"backup {r.id}: file {path} is missing")
            elif path.stat().st_size != f.bytes:
                problems.append(
                    f"backup {r.id}: {f.name} is {path.stat().st_size} bytes, "
                    f"catalogued as {f.bytes}"
                )
    if records and max_age is not None:
        age = (now - records[-1].stopped).total_seconds()
        if age > max_age:
            problems.append(
                f"the newest backup {records[-1].id} is {age / 3600:.1f} h old "
                f"(max_age {max_age / 3600:.1f} h)"
            )
    return problems


class Engine(Protocol):
    """What a drill needs of an engine: a backup's window and a restore."""

    def window(self, record: BackupRecord) -> tuple[Window, Run]: ...

    def pick(self, record: BackupRecord, win: Window, rng: random.Random) -> Commit | None: ...

    def restore(
        self, target: Path, point: Point, *, backup_id: str | None, keep_running: bool, step: Step
    ) -> Restored: ...


class Builtin:
    """The built-in engine as a drill sees it."""

    def __init__(self, repo: Repository, bin_dir: Path | None) -> None:
        self.repo, self.bin_dir = repo, bin_dir

    def window(self, record: BackupRecord) -> tuple[Window, Run]:
        return window(self.repo, record, bin_dir_for(record.major, self.bin_dir))

    def pick(self, record: BackupRecord, win: Window, rng: random.Random) -> Commit | None:
        binaries = bin_dir_for(record.major, self.bin_dir)
        return pick_commit(binaries, self.window(record)[1], record, win, rng)

    def restore(
        self, target: Path, point: Point, *, backup_id: str | None, keep_running: bool, step: Step
    ) -> Restored:
        return restore(
            self.repo,
            target,
            point,
            backup_id=backup_id,
            keep_running=keep_running,
            bin_dir=self.bin_dir,
            step=step,
        )


def pick_commit(
    bin_dir: Path, run_: Run, record: BackupRecord, win: Window, rng: random.Random
) -> Commit | None:
    """A random commit strictly inside the window (not the newest: a time target needs a
    commit after it to stop at). One random segment is read (the next ones only while none
    has a commit), so a drill never re-reads the whole archive (pgbackrest#2828)."""
    seg = record.wal_segment_size
    stop = lsn_int(record.stop_lsn)
    files = [s for s in run_.files if s.segno >= _wal.segno_of(stop, seg)]
    if not files:
        return None
    first = rng.randrange(len(files))
    for index in [*range(first, len(files)), *range(first)]:
        inside = [
            c
            for c in _wal.commits(bin_dir, files[index : index + 1], seg, stop)
            if c.lsn > stop and record.stopped < c.at < win.end_time
        ]
        if inside:
            return rng.choice(inside)
    return None


def drill(
    engine: Engine,
    record: BackupRecord,
    *,
    spec: Spec | None = None,
    bin_dir: Path | None = None,
    rng: random.Random | None = None,
    step: Step = lambda _s: None,
    heapallindexed: bool = True,
) -> DrillReport:
    """Restore ``record`` into a throwaway server, replay to a random commit of its window,
    check everything (the caller records the verification in the catalog)."""
    report = DrillReport(record.id)
    win, _run = engine.window(record)
    report.recoverable_until = win.end_time.isoformat()
    if win.gap:
        report.problems.append(
            f"WAL gap: segment {win.gap} is missing from the archive (backup {record.id} "
            f"recovers only to {win.end_time.isoformat()})"
        )
    chosen = engine.pick(record, win, rng or random.Random())
    point = Point("time", time=chosen.at) if chosen else Point("latest")
    report.target = point.describe()
    scratch = Path(tempfile.mkdtemp(prefix="pgwarden-drill-"))
    restored = None
    try:
        restored = engine.restore(
            scratch / "data", point, backup_id=record.id, keep_running=True, step=step
        )
        report.reached = restored.reached
        if chosen is not None and restored.reached != chosen.at.isoformat():
            report.problems.append(
                f"replay stopped at {restored.reached}, not at the chosen commit "
                f"{chosen.at.isoformat()} (xid {chosen.xid})"
            )
        assert restored.instance is not None
        step("amcheck, row counts, drift")
        started = time.monotonic()
        _check(restored.instance.url, report, spec, heapallindexed)
        report.breakdown = {**restored.breakdown, "checks": round(time.monotonic() - started, 3)}
        report.rto_seconds = round(
            sum(v for k, v in restored.breakdown.items() if k != "choose"), 3
        )
    except BackupError as exc:
        report.problems.append(exc.message)
    finally:
        if restored is not None and restored.instance is not None:
            restored.instance.stop("immediate")
        shutil.rmtree(scratch, ignore_errors=True)
    return report


def record_verification(
    repo: Repository, record: BackupRecord, report: DrillReport
) -> BackupRecord:
    ver = Verification(
        at=dt.datetime.now(dt.UTC).isoformat(),
        ok=report.ok,
        target=report.target,
        reached=report.reached,
        recoverable_until=report.recoverable_until,
        rto_seconds=report.rto_seconds,
        breakdown=report.breakdown,
        databases=report.databases,
        tables=report.tables,
        indexes=report.indexes,
        rows=report.rows,
        problems=report.problems,
    )
    updated = replace(record, verification=ver)
    repo.update(updated)
    return updated


def _check(url_of: Any, report: DrillReport, spec: Spec | None, heapallindexed: bool) -> None:
    with psycopg.connect(url_of(), autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "select datname from pg_database where datallowconn order by datname"
            )
        ]
    for name in names:
        report.databases += 1
        with psycopg.connect(url_of(name), autocommit=True) as conn:
            _check_database(conn, name, report, heapallindexed)
            ledger = conn.execute("select to_regclass('warden.migrations')").fetchone()
        if ledger and ledger[0] is not None:
            _drift(url_of(name), name, spec, report)


def _check_database(
    conn: psycopg.Connection[Any], name: str, report: DrillReport, heapallindexed: bool
) -> None:
    conn.execute("create extension if not exists amcheck")
    version = conn.execute("select current_setting('server_version_num')::int").fetchone()
    heapam = version is not None and version[0] >= 140000
    tables = conn.execute(
        """select c.oid, format('%I.%I', n.nspname, c.relname),
                  c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema'),
                  n.nspname, c.relname
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.relkind in ('r', 'm') and c.relpersistence <> 't'
            order by 2"""
    ).fetchall()
    for oid, qualified, user_table, schema, relname in tables:
        report.tables += 1
        if heapam:
            bad = conn.execute(
                "select blkno, offnum, msg from verify_heapam(%s::regclass) limit 3", (oid,)
            ).fetchall()
            for blkno, offnum, msg in bad:
                report.problems.append(
                    f"{name}: {qualified}: verify_heapam block {blkno} item {offnum}: {msg}"
                )
        if user_table:
            try:
                row = conn.execute(
                    sql.SQL("select count(*) from {}").format(sql.Identifier(schema, relname))
                ).fetchone()
                report.rows += row[0] if row else 0
            except psycopg.Error as exc:
                report.problems.append(f"{name}: {qualified}: count(*) failed: {exc}")
    indexes = conn.execute(
        """select c.oid, format('%I.%I', n.nspname, c.relname)
             from pg_index i join pg_class c on c.oid = i.indexrelid
             join pg_namespace n on n.oid = c.relnamespace
             join pg_am a on a.oid = c.relam
            where a.amname = 'btree' and c.relkind = 'i' and i.indisvalid and i.indisready
              and c.relpersistence <> 't'
            order by 2"""
    ).fetchall()
    for oid, qualified in indexes:
        report.indexes += 1
        try:
            conn.execute("select bt_index_check(%s::regclass, %s)", (oid, heapallindexed))
        except psycopg.Error as exc:
            report.problems.append(f"{name}: index {qualified}: bt_index_check: {exc}")


def _drift(url: str, name: str, spec: Spec | None, report: DrillReport) -> None:
    """pgwarden's ledger in the restored database: every object it owns still has the
    fingerprint it was applied with; with the declaration, nothing is pending either."""
    from pgwarden.warden import Warden

    with Warden(url, spec=spec) as warden:
        status = warden.status()
    for owned in status.drift:
        report.problems.append(
            f"{name}: pgwarden's {owned.owned.description} is {owned.state} in the restored "
            "database"
        )
    if spec is not None and spec.tables and status.pending:
        what = "; ".join(c.description for c in status.pending[:5])
        report.problems.append(f"{name}: the restored database drifted from {spec.file}: {what}")
