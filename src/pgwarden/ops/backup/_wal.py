"""The WAL archive: segment names, continuity, streaming it in with ``pg_receivewal``, and the
commits it holds (read with ``pg_waldump``), which bound what a restore can reach."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pgwarden.errors import BackupError
from pgwarden.ops.backup._catalog import lsn_int, lsn_text
from pgwarden.ops.backup._tools import Tool, libpq_args

_SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial)?$")
_COMMIT = re.compile(
    r"tx:\s+(\d+), lsn: ([0-9A-F]+/[0-9A-F]+),.*desc: COMMIT "
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC"
)
LOCK = ".receivewal.lock"


def segment_name(timeline: int, segno: int, seg_size: int) -> str:
    per_log = 0x1_0000_0000 // seg_size
    return f"{timeline:08X}{segno // per_log:08X}{segno % per_log:08X}"


def segno_of(lsn: str | int, seg_size: int) -> int:
    return (lsn_int(lsn) if isinstance(lsn, str) else lsn) // seg_size


@dataclass(frozen=True)
class Segment:
    timeline: int
    segno: int
    path: Path
    partial: bool


def segments(wal_dir: Path, seg_size: int) -> dict[tuple[int, int], Segment]:
    """(timeline, segno) -> segment file; a complete file wins over a ``.partial`` one."""
    per_log = 0x1_0000_0000 // seg_size
    found: dict[tuple[int, int], Segment] = {}
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(wal_dir):
            match = _SEGMENT.match(entry.name)
            if not match:
                continue
            tli, log, seg = (int(g, 16) for g in match.groups()[:3])
            key = (tli, log * per_log + seg)
            partial = match.group(4) is not None
            if key in found and not found[key].partial:
                continue
            found[key] = Segment(tli, key[1], Path(entry.path), partial)
    return found


@dataclass(frozen=True)
class Run:
    """The WAL a backup can replay: segments ``first..last`` without a hole, and the first
    missing one when newer segments exist past it (a gap)."""

    first: int
    last: int | None
    gap: str | None
    files: list[Segment]


def contiguous(wal_dir: Path, timeline: int, first: int, seg_size: int) -> Run:
    """The unbroken run of segments of ``timeline`` from ``first`` on."""
    have = segments(wal_dir, seg_size)
    files: list[Segment] = []
    segno = first
    while (timeline, segno) in have:
        files.append(have[(timeline, segno)])
        if have[(timeline, segno)].partial:
            break
        segno += 1
    newer = [s for (t, s) in have if t == timeline and s > segno]
    gap = segment_name(timeline, segno, seg_size) if newer else None
    return Run(first, files[-1].segno if files else None, gap, files)


@dataclass(frozen=True)
class Commit:
    xid: int
    lsn: int
    at: dt.datetime


def commits(
    bin_dir: Path, files: list[Segment], seg_size: int, start_lsn: int | None = None
) -> Iterator[Commit]:
    """Every commit record in ``files`` (consecutive segments), in WAL order, streamed."""
    if not files:
        return
    with tempfile.TemporaryDirectory(prefix="pgwarden-wal-") as tmp:
        # pg_waldump reads names, not ".partial": link every segment under its plain name.
        for seg in files:
            os.symlink(seg.path, Path(tmp, segment_name(seg.timeline, seg.segno, seg_size)))
        first = segment_name(files[0].timeline, files[0].segno, seg_size)
        last = segment_name(files[-1].timeline, files[-1].segno, seg_size)
        argv = [str(bin_dir / "pg_waldump"), "-p", tmp, "--rmgr=Transaction"]
        if start_lsn is not None and segno_of(start_lsn, seg_size) == files[0].segno:
            argv += ["-s", lsn_text(start_lsn)]
        argv += [first, last]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**env, "TZ": "UTC"},
            text=True,
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                match = _COMMIT.search(line)
                if match:
                    at = dt.datetime.fromisoformat(match.group(3)).replace(tzinfo=dt.UTC)
                    yield Commit(int(match.group(1)), lsn_int(match.group(2)), at)
        finally:
            proc.kill()
            proc.wait()


def newest_commit(bin_dir: Path, run: Run, seg_size: int, start_lsn: int) -> Commit | None:
    """The last commit of ``run`` (scanning back from its newest segment only as far as
    needed: verifying never re-reads all the WAL)."""
    for back in range(1, len(run.files) + 1):
        found = None
        for found in commits(bin_dir, run.files[-back:], seg_size, start_lsn):  # noqa: B007
            pass
        if found is not None and found.lsn >= start_lsn:
            return found
    return None


def ensure_slot(url: str, slot: str) -> None:
    """Create the physical slot (reserving WAL now) unless it exists."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "select pg_create_physical_replication_slot(%s, true) where not exists "
            "(select from pg_replication_slots where slot_name = %s)",
            (slot, slot),
        )


def flush_lsn(url: str) -> int:
    """The server's flushed WAL position, then one commit record past it: pg_receivewal
    leaves at ``--endpos`` only once it receives WAL beyond it, and an idle server would make
    it wait for the next background record (up to 15 s). Any role may commit an xid."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("select pg_current_wal_flush_lsn()::text").fetchone()
        conn.execute("select pg_current_xact_id()")
    assert row is not None
    return lsn_int(row[0])


def await_archived(url: str, wal_dir: Path, timeout: float = 120) -> str:
    """Switch to a new segment and wait until the server's ``archive_command`` has put the
    finished one into ``wal_dir``; returns its name. A failing archiver is reported."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select pg_walfile_name(pg_current_wal_flush_lsn()), current_setting('archive_mode')"
        ).fetchone()
        assert row is not None
        if row[1] == "off":
            raise BackupError(
                '[backup] wal = "archive" but the server has archive_mode = off',
                hint='set wal = "stream" (no server change needed), or configure archiving',
            )
        conn.execute("select pg_current_xact_id()")  # a record, so the switch has a segment to end
        conn.execute("select pg_switch_wal()")
        wanted: str = row[0]
        deadline = time.monotonic() + timeout
        while not (wal_dir / wanted).exists():
            if time.monotonic() > deadline:
                failed = conn.execute(
                    "select last_failed_wal, last_failed_time from pg_stat_archiver"
                ).fetchone()
                raise BackupError(
                    f"WAL segment {wanted} did not reach {wal_dir} within {timeout:g}s "
                    f"(last failed: {failed})",
                    hint="check the server's archive_command and its log",
                )
            time.sleep(0.1)
    return wanted


def received_until(wal_dir: Path, seg_size: int) -> int:
    """An upper bound of what the archive holds: the end of its newest segment file."""
    have = segments(wal_dir, seg_size)
    if not have:
        return 0
    newest = max(have.values(), key=lambda s: (s.timeline, s.segno))
    if newest.partial:
        return newest.segno * seg_size  # conservative: partial content unknown
    return (newest.segno + 1) * seg_size


@contextlib.contextmanager
def stream_lock(wal_dir: Path, *, wait: bool = False) -> Iterator[bool]:
    """Whether this process may run ``pg_receivewal`` into ``wal_dir`` (one at a time)."""
    wal_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (wal_dir / LOCK).open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        fh.truncate(0)
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def receive(
    bin_dir: Path,
    url: str,
    wal_dir: Path,
    slot: str,
    *,
    until: int | None,
    stop: threading.Event | None = None,
    timeout: float | None = None,
) -> None:
    """Run ``pg_receivewal`` on ``slot`` into ``wal_dir`` until LSN ``until`` (``None``: until
    ``stop`` is set). Each write is flushed (``--synchronous``), so the slot's position is
    what the archive really holds."""
    conninfo, env = libpq_args(url)
    argv: list[str | Path] = [
        bin_dir / "pg_receivewal",
        "-D",
        wal_dir,
        "-S",
        slot,
        "-d",
        conninfo,
        "--no-loop",
        "--synchronous",
        "-s",
        "1",
    ]
    if until is not None:
        argv += ["-E", lsn_text(until)]
    tool = Tool(argv, env=env, guard=True)
    if stop is None:
        tool.wait(timeout)
        return
    while tool.proc.poll() is None:
        if stop.wait(0.2):
            tool.proc.send_signal(signal.SIGINT)  # pg_receivewal flushes and exits cleanly
            break
    tool.wait(30)


def catch_up(bin_dir: Path, url: str, wal_dir: Path, slot: str, seg_size: int) -> bool:
    """Bring the archive up to the server's current flush position, unless a ``backup wal``
    process is streaming (then it does it). Returns whether this call streamed."""
    with stream_lock(wal_dir) as mine:
        if not mine:
            return False
        target = flush_lsn(url)
        have = received_until(wal_dir, seg_size)
        if have >= target:
            return True
        receive(bin_dir, url, wal_dir, slot, until=target, timeout=600)
        return True


def stream_forever(
    bin_dir: Path,
    url: str,
    wal_dir: Path,
    slot: str,
    *,
    stop: threading.Event,
    on_event: Callable[[str], None] = lambda _m: None,
) -> None:
    """``backup wal``: stream until ``stop``; a broken connection is retried with backoff."""
    with stream_lock(wal_dir) as mine:
        if not mine:
            raise BackupError(
                f"another process is already streaming WAL into {wal_dir}",
                hint=f"its pid is in {wal_dir / LOCK}",
            )
        ensure_slot(url, slot)
        delay = 1.0
        while not stop.is_set():
            started = time.monotonic()
            try:
                receive(bin_dir, url, wal_dir, slot, until=None, stop=stop)
            except (BackupError, psycopg.Error) as exc:
                on_event(f"WAL streaming interrupted: {exc}; retrying in {delay:g}s")
            if time.monotonic() - started > 60:
                delay = 1.0
            if stop.wait(delay):
                break
            delay = min(delay * 2, 60)


def copy_segments(run_files: list[Segment], dest: Path, seg_size: int, upto: int | None) -> int:
    """Copy segments (``.partial`` under its plain name) into ``dest``; returns bytes."""
    total = 0
    for seg in run_files:
        if upto is not None and seg.segno > upto:
            break
        target = dest / segment_name(seg.timeline, seg.segno, seg_size)
        shutil.copyfile(seg.path, target)
        total += seg_size
    return total
