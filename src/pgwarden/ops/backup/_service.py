"""``Backups``: the public face of the backup module, one repository and one source."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from pgwarden.errors import BackupError
from pgwarden.ops.backup import _builtin, _catalog, _drill, _restore, _wal
from pgwarden.ops.backup._catalog import BackupRecord, Repository
from pgwarden.ops.backup._config import BackupSection
from pgwarden.ops.backup._drill import DrillReport
from pgwarden.ops.backup._health import BackupHealth, health
from pgwarden.ops.backup._restore import Point, Restored
from pgwarden.ops.backup._retention import Decision, Item, plan_retention
from pgwarden.ops.backup._tools import bin_dir_for
from pgwarden.spec import Spec


@dataclass(frozen=True)
class Pruned:
    """What ``prune`` removed (or, dry, would remove) and why; WAL as a segment range."""

    decisions: list[Decision]
    wal_segments: list[str]
    wal_reason: str
    dry_run: bool

    @property
    def removed(self) -> list[str]:
        return [d.id for d in self.decisions if not d.keep]

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "backups": [
                {"id": d.id, "keep": d.keep, "reasons": list(d.reasons)} for d in self.decisions
            ],
            "wal_removed": len(self.wal_segments),
            "wal_first": self.wal_segments[0] if self.wal_segments else None,
            "wal_last": self.wal_segments[-1] if self.wal_segments else None,
            "wal_reason": self.wal_reason,
        }


class Backups:
    """Backups of the database at ``url`` into the repository of ``section``.

    ::

        backups = Backups(url, BackupSection(repository=Path("/srv/backups")))
        record = backups.run()                       # pg_basebackup + WAL up to now
        report = backups.verify()                    # restore drill of the newest backup
        backups.restore(Path("/srv/pg-restored"), Point("time", time=when))

    ``spec`` (the declaration) lets a drill check the restored database for drift.
    """

    def __init__(
        self, url: str, section: BackupSection | None = None, *, spec: Spec | None = None
    ) -> None:
        self.url = url
        self.section = section or BackupSection()
        self.spec = spec
        self.repo = Repository(self.section.repository, self.section.wal_dir)
        if self.section.engine == "pgbackrest":
            from pgwarden.ops.backup._pgbackrest import PgBackRest

            self._pgbr: PgBackRest | None = PgBackRest(self.repo, self.section, url)
        else:
            self._pgbr = None

    @classmethod
    def from_spec(cls, spec: Spec, url: str) -> Backups:
        return cls(url, spec.section("backup", BackupSection), spec=spec)

    # -- backups -------------------------------------------------------------------------

    def run(
        self, *, kind: str | None = None, progress: Callable[[int, int | None], None] | None = None
    ) -> BackupRecord:
        """Take a backup (``kind``: ``full``, ``incremental``/``diff`` or ``None`` for the
        policy's choice) and add it to the catalog; the WAL is then archived up to now."""
        if self._pgbr is not None:
            record = self._pgbr.backup(kind)
        else:
            record = _builtin.take(self.repo, self.section, self.url, kind=kind, progress=progress)
        self._mirror([record])
        return record

    def records(self) -> list[BackupRecord]:
        """Every catalogued backup, oldest first."""
        if self._pgbr is not None:
            return self._pgbr.records()
        return self.repo.records()

    def stream_wal(
        self, stop: threading.Event, on_event: Callable[[str], None] = lambda _m: None
    ) -> None:
        """Stream WAL into the repository until ``stop`` is set (``backup wal``)."""
        if self._pgbr is not None:
            raise BackupError(
                "the pgBackRest engine archives WAL through the server's archive_command",
                hint=self._pgbr.archive_hint(),
            )
        if self.section.wal == "archive":
            raise BackupError(
                f'[backup] wal = "archive": the server\'s archive_command fills '
                f"{self.repo.wal_dir}; there is nothing to stream",
                hint="pgwarden backup wal --until-now waits until the current segment is archived",
            )
        _seg, bin_dir = self._source_bin()
        _wal.stream_forever(
            bin_dir, self.url, self.repo.wal_dir, self.section.slot, stop=stop, on_event=on_event
        )

    def catch_up_wal(self) -> None:
        """Archive the WAL up to the server's current position now, then return."""
        if self.section.wal == "archive":
            _wal.await_archived(self.url, self.repo.wal_dir)
            return
        seg, bin_dir = self._source_bin()
        _wal.ensure_slot(self.url, self.section.slot)
        if not _wal.catch_up(bin_dir, self.url, self.repo.wal_dir, self.section.slot, seg):
            raise BackupError(f"another process is streaming WAL into {self.repo.wal_dir}")

    def _source_bin(self) -> tuple[int, Path]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            source = _builtin.Source.read(conn)
        return source.wal_segment_size, bin_dir_for(source.major, self.section.bin_dir)

    # -- verify / restore ----------------------------------------------------------------

    def verify(
        self,
        backup_id: str | None = None,
        *,
        seed: int | None = None,
        step: Callable[[str], None] = lambda _s: None,
        now: dt.datetime | None = None,
    ) -> DrillReport:
        """Check every backup is present, then restore-drill ``backup_id`` (default: the
        newest) and record the outcome in the catalog (``verification``)."""
        if self._pgbr is not None:
            return self._pgbr.verify(backup_id, spec=self.spec, seed=seed, step=step)
        now = now or dt.datetime.now(dt.UTC)
        with self.repo.locked():
            records = self.repo.records()
            problems = _drill.presence(self.repo, self.section.max_age.seconds, now)
            if backup_id is not None:
                record = self.repo.get(backup_id)
            elif records:
                record = records[-1]
            else:
                return DrillReport(None, problems or ["the repository has no backup"])
            if not self.repo.backup_dir(record).is_dir():
                return DrillReport(record.id, problems)
            engine = _drill.Builtin(self.repo, self.section.bin_dir)
            report = _drill.drill(
                engine,
                record,
                spec=self.spec,
                bin_dir=self.section.bin_dir,
                rng=random.Random(seed),
                step=step,
            )
            report.problems[:0] = [p for p in problems if p not in report.problems]
            updated = _drill.record_verification(self.repo, record, report)
        self._mirror([updated])
        return report

    def restore(
        self,
        target: Path,
        point: Point | None = None,
        *,
        backup_id: str | None = None,
        keep_running: bool = False,
        step: Callable[[str], None] = lambda _s: None,
        dry_run: bool = False,
    ) -> Restored:
        """Restore into the empty directory ``target`` at ``point`` (default: latest); ends
        with a promoted server, stopped unless ``keep_running`` (then ``.instance``).
        ``dry_run`` (built-in engine): choose the backup and run every check, write nothing."""
        point = point or Point()
        if self._pgbr is not None:
            if dry_run:
                raise BackupError("restore --dry-run is for the built-in engine")
            return self._pgbr.restore(
                target, point, backup_id=backup_id, keep_running=keep_running, step=step
            )
        return _restore.restore(
            self.repo,
            target,
            point,
            backup_id=backup_id,
            keep_running=keep_running,
            bin_dir=self.section.bin_dir,
            step=step,
            dry_run=dry_run,
        )

    # -- retention -----------------------------------------------------------------------

    def prune(self, *, dry_run: bool = False) -> Pruned:
        """Apply the ``keep`` policy: remove unkept backups and the WAL none of the kept
        ones needs. The newest verified backup is always kept."""
        if self._pgbr is not None:
            pruned: Pruned = self._pgbr.prune(dry_run=dry_run)
            return pruned
        with self.repo.locked():
            records = self.repo.records()
            items = [
                Item(r.id, r.stopped, bool(r.verification and r.verification.ok), r.parent)
                for r in records
            ]
            decisions = plan_retention(items, self.section.keep)
            kept = [r for r, d in zip(records, decisions, strict=True) if d.keep]
            wal, reason = _wal_to_prune(self.repo, kept)
            if not dry_run:
                for d in decisions:
                    if not d.keep:
                        self.repo.remove(d.id)
                for path in wal:
                    path.unlink(missing_ok=True)
        result = Pruned(decisions, [p.name for p in wal], reason, dry_run)
        if not dry_run and result.removed:
            self._mirror([], removed=result.removed)
        return result

    def archive(self) -> dict[str, Any]:
        """The WAL archive as restores see it: segment count, first and last, and the first
        missing segment after the oldest backup (``gap``), if any."""
        records = [r for r in self.records() if r.engine == "builtin"]
        if self._pgbr is not None or not records:
            return {"segments": 0, "first": None, "last": None, "gap": None}
        oldest = records[0]
        seg = oldest.wal_segment_size
        have = sorted(_wal.segments(self.repo.wal_dir, seg).values(),
                      key=lambda s: (s.timeline, s.segno))  # fmt: skip
        run_ = _wal.contiguous(
            self.repo.wal_dir, oldest.timeline, _wal.segno_of(oldest.start_lsn, seg), seg
        )
        return {
            "segments": len(have),
            "first": have[0].path.name if have else None,
            "last": have[-1].path.name if have else None,
            "gap": run_.gap,
        }

    # -- health --------------------------------------------------------------------------

    def health(self) -> BackupHealth:
        return health(self.url)

    def _mirror(self, records: list[BackupRecord], removed: list[str] | None = None) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            slot = (
                self.section.slot if self._pgbr is None and self.section.wal == "stream" else None
            )
            _catalog.mirror(conn, self.repo, records, slot=slot, removed=removed)


def _wal_to_prune(repo: Repository, kept: list[BackupRecord]) -> tuple[list[Path], str]:
    if not kept:
        return [], "no backup is kept, so all WAL is kept"
    oldest = min(kept, key=lambda r: _catalog.lsn_int(r.start_lsn))
    seg = oldest.wal_segment_size
    first = _wal.segno_of(oldest.start_lsn, seg)
    gone = sorted(
        (
            s
            for (tli, segno), s in _wal.segments(repo.wal_dir, seg).items()
            if segno < first and tli <= oldest.timeline
        ),
        key=lambda s: (s.timeline, s.segno),
    )
    return [s.path for s in gone], (
        f"older than the start of {oldest.id}, the oldest kept backup "
        f"(LSN {oldest.start_lsn}, segment {_wal.segment_name(oldest.timeline, first, seg)})"
    )
