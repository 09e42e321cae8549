"""Backups: throughput against plain pg_basebackup, a restore drill's RTO, WAL streaming lag
under load, and the memory of the backup commands as the database grows.

On a source server of its own (embedded PostgreSQL 18 binaries unless --bin-dir), filled by
``pgbench -i -s SCALE`` (scale 68 is about 1 GB):

  1. throughput: plain ``pg_basebackup -Ft -X stream -c fast`` and ``Backups.run()`` (the same
     pg_basebackup, plus SHA-256 of every file, one fsync pass, the catalog and WAL up to now),
     alternated, ``--repeat`` times each; MB/s of the database size, median;
  2. restore drill: ``Backups.verify()`` of the newest backup after ``pgbench -T 10`` of
     writes: its RTO broken down (rebuild: extract + checksums + pg_verifybackup; WAL copy;
     replay and promote; amcheck + row counts);
  3. WAL streaming: ``pgwarden backup wal`` running while ``pgbench -c 2 -T --seconds`` writes;
     the lag of the archive behind the server (bytes, and pg_stat_replication.flush_lag)
     sampled every 0.2 s; TPS beside the same pgbench without streaming (the baseline);
  4. memory: peak RSS of ``pgwarden backup run`` / ``verify`` / ``restore`` processes (the
     Python side; pg_basebackup and the server are PostgreSQL's) at scale 1 and at SCALE.

.venv/bin/python bench/backup.py                  # ~1 GB, several minutes
.venv/bin/python bench/backup.py --scale 10 --repeat 1 --seconds 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import load, machine, percentile, print_table
from pgwarden import __version__
from pgwarden.ops.backup import Backups, BackupSection, Instance
from pgwarden.ops.backup._tools import libpq_args
from pgwarden.server import bin_path

SETTINGS = {
    "wal_level": "replica",
    "max_wal_senders": "10",
    "max_replication_slots": "10",
    "shared_buffers": "128MB",
    "max_wal_size": "2GB",
}


def pgbench(bin_dir: Path, url: str, *args: str) -> str:
    done = subprocess.run(
        [str(bin_dir / "pgbench"), *args, url], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"pgbench {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def tps(output: str) -> float:
    for line in output.splitlines():
        if line.startswith("tps ="):
            return float(line.split()[2])
    raise SystemExit(f"no tps in pgbench output:\n{output}")


def db_size(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("select sum(pg_database_size(oid))::bigint from pg_database").fetchone()
    assert row is not None
    return int(row[0])


def plain_basebackup(bin_dir: Path, url: str, dest: Path, *extra: str) -> float:
    conninfo, env = libpq_args(url)
    start = time.perf_counter()
    subprocess.run(
        [str(bin_dir / "pg_basebackup"), "-d", conninfo, "-D", str(dest), "-Ft", "-X", "stream",
         "-c", "fast", *extra],
        check=True, env={**os.environ, **env},
    )  # fmt: skip
    return time.perf_counter() - start


def throughput(bin_dir: Path, url: str, home: Path, repeat: int) -> tuple[list[list[str]], Backups]:
    size = db_size(url)
    backups = Backups(url, BackupSection(repository=home / "repo", incremental=False))
    plain, nosync, ours = [], [], []
    for i in range(repeat):
        dest = home / f"plain{i}"
        plain.append(plain_basebackup(bin_dir, url, dest))
        shutil.rmtree(dest)
        nosync.append(plain_basebackup(bin_dir, url, dest, "--no-sync"))
        shutil.rmtree(dest)
        start = time.perf_counter()
        backups.run(kind="full")
        ours.append(time.perf_counter() - start)
    p, n, o = statistics.median(plain), statistics.median(nosync), statistics.median(ours)
    mb = size / 1e6
    rows = [
        ["plain pg_basebackup -Ft -X stream", f"{mb:,.0f}", f"{p:.2f}", f"{mb / p:,.0f}", "1.00x"],
        ["plain pg_basebackup --no-sync (not durable)", f"{mb:,.0f}", f"{n:.2f}",
         f"{mb / n:,.0f}", f"{p / n:.2f}x"],
        ["pgwarden backup run (builtin)", f"{mb:,.0f}", f"{o:.2f}", f"{mb / o:,.0f}",
         f"{p / o:.2f}x"],
    ]  # fmt: skip
    return rows, backups


def drill(backups: Backups, bin_dir: Path, url: str) -> list[list[str]]:
    pgbench(bin_dir, url, "-c", "2", "-T", "10")
    backups.catch_up_wal()
    start = time.perf_counter()
    report = backups.verify(seed=1)
    wall = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"drill failed: {report.problems}")
    rows = [[k, f"{v:.2f}"] for k, v in report.breakdown.items()]
    rows.append(["RTO: rebuild + WAL + replay to promoted", f"{report.rto_seconds:.2f}"])
    rows.append(["whole verify (incl. choosing the point)", f"{wall:.2f}"])
    rows.append(["tables / indexes / rows checked",
                 f"{report.tables} / {report.indexes} / {report.rows:,}"])  # fmt: skip
    return rows


def streaming(bin_dir: Path, url: str, backups: Backups, seconds: int) -> list[list[str]]:
    # The baseline is the mean of one run before and one after the streamed run.
    before = tps(pgbench(bin_dir, url, "-c", "2", "-T", str(seconds)))
    stop = threading.Event()
    streamer = threading.Thread(target=backups.stream_wal, args=(stop,), daemon=True)
    streamer.start()
    samples: list[int] = []
    lags: list[float] = []
    done = threading.Event()

    def sample() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not done.is_set():
                row = conn.execute(
                    """select pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint,
                              extract(epoch from flush_lag)::float8
                         from pg_stat_replication where application_name = 'pg_receivewal'"""
                ).fetchone()
                if row is not None:
                    samples.append(int(row[0]))
                    if row[1] is not None:
                        lags.append(float(row[1]))
                time.sleep(0.2)

    time.sleep(1)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    loaded = tps(pgbench(bin_dir, url, "-c", "2", "-T", str(seconds)))
    done.set()
    sampler.join()
    stop.set()
    streamer.join(30)
    baseline = (before + tps(pgbench(bin_dir, url, "-c", "2", "-T", str(seconds)))) / 2
    return [
        ["pgbench TPS without streaming (baseline)", f"{baseline:,.0f}"],
        ["pgbench TPS while pgwarden backup wal streams",
         f"{loaded:,.0f} ({loaded / baseline:.2f}x)"],
        ["archive lag, bytes: median / p99 / max",
         f"{statistics.median(samples):,.0f} / {percentile(samples, 99):,.0f} / {max(samples):,}"],
        ["flush_lag, ms: median / p99 / max",
         f"{statistics.median(lags) * 1000:.1f} / {percentile(lags, 99) * 1000:.1f} / "
         f"{max(lags) * 1000:.1f}" if lags else "-"],
        ["samples", str(len(samples))],
    ]  # fmt: skip


def peak_rss(argv: list[str], cwd: Path, url: str) -> float:
    """Peak RSS (MB) of the pgwarden process itself (os.wait4 reports that child only)."""
    env = {**os.environ, "PGWARDEN_DATABASE_URL": url}
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    _pid, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{argv} failed: {proc.stderr.read() if proc.stderr else ''}")
    return usage.ru_maxrss / 1024


def memory(bin_dir: Path, scale: int, home: Path) -> list[list[str]]:
    exe = str(Path(sys.executable).parent / "pgwarden")
    results: dict[str, list[str]] = {}
    sizes = []
    for s in (1, scale):
        with source(bin_dir, home / f"mem{s}") as instance:
            url = instance.url()
            pgbench(bin_dir, url, "-i", "-q", "-s", str(s))
            sizes.append(f"{db_size(url) / 1e6:,.0f} MB")
            project = home / f"mem{s}" / "project"
            project.mkdir()
            (project / "pgwarden.toml").write_text('[backup]\nrepository = "repo"\n')
            for name, argv in (
                ("backup run", [exe, "backup", "run", "--json"]),
                ("backup verify", [exe, "backup", "verify", "--json"]),
                ("backup restore", [exe, "backup", "restore", "--target", "out", "--json"]),
            ):
                results.setdefault(name, []).append(f"{peak_rss(argv, project, url):.0f}")
    return [[name, *values] for name, values in results.items()] + [["database size", *sizes]]


class source:
    def __init__(self, bin_dir: Path, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.instance = Instance(home / "src", bin_dir)

    def __enter__(self) -> Instance:
        self.instance.initdb()
        settings = dict(SETTINGS)
        version = int((self.instance.cluster / "PG_VERSION").read_text())
        if version >= 17:
            settings["summarize_wal"] = "on"
        self.instance.start(settings)
        return self.instance

    def __exit__(self, *exc: object) -> None:
        self.instance.stop("immediate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=68, help="pgbench scale (68: ~1 GB)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--bin-dir", type=Path, default=None)
    args = parser.parse_args()
    bin_dir = args.bin_dir or bin_path()
    home = Path(tempfile.mkdtemp(prefix="pgwarden-bench-backup-"))
    try:
        with source(bin_dir, home / "main") as instance:
            url = instance.url()
            started = time.perf_counter()
            pgbench(bin_dir, url, "-i", "-q", "-s", str(args.scale))
            print(f"pgbench -i -s {args.scale}: {db_size(url) / 1e6:,.0f} MB in "
                  f"{time.perf_counter() - started:.0f} s")  # fmt: skip
            with psycopg.connect(url) as conn:
                version = conn.info.parameter_status("server_version")
            print(f"pgwarden {__version__}, PostgreSQL {version}, {machine()}, load {load()}")
            rows, backups = throughput(bin_dir, url, home / "main", args.repeat)
            print_table("1. backup throughput (median)",
                        ["method", "DB MB", "seconds", "MB/s", "vs plain"], rows)  # fmt: skip
            print_table("2. restore drill (verify) of the newest backup",
                        ["step", "seconds"], drill(backups, bin_dir, url))  # fmt: skip
            lag = streaming(bin_dir, url, backups, args.seconds)
            print_table(f"3. WAL streaming under pgbench -c 2 -T {args.seconds}",
                        ["measure", "value"], lag)  # fmt: skip
        print_table("4. peak RSS of the pgwarden process, MB (scale 1 vs scale "
                    f"{args.scale})", ["command", "scale 1", f"scale {args.scale}"],
                    memory(bin_dir, args.scale, home))  # fmt: skip
        print(f"\nload after: {load()}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
