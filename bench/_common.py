"""Shared helpers for bench programs: a server to measure on, a scratch database, a timer,
and a table printer. Benchmarks are programs, not tests: they print figures, never assert."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql


@contextlib.contextmanager
def server_url(dsn: str | None, settings: dict[str, str] | None = None) -> Iterator[str]:
    """``dsn`` as given, or a throwaway embedded server (default settings: durable, plus
    ``settings``)."""
    if dsn:
        yield dsn
        return
    from pgwarden.server import EmbeddedServer

    with tempfile.TemporaryDirectory(prefix="pgwarden-bench-") as tmp:
        server = EmbeddedServer(Path(tmp) / "pg")
        status = server.start(settings=settings)
        try:
            yield status.url("postgres")
        finally:
            server.stop()


@contextlib.contextmanager
def scratch_db(admin_url: str) -> Iterator[str]:
    name = f"pgwarden_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(admin_url)
    params["dbname"] = name
    try:
        yield psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            # A logical replication slot in it (audit capture = "wal") would block the drop.
            conn.execute(
                "select pg_drop_replication_slot(slot_name) from pg_replication_slots "
                "where database = %s",
                (name,),
            )
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def pgbench_tps(url: str, scale: int = 5, seconds: int = 15) -> float:
    """The machine's baseline beside absolute figures: plain pgbench TPS on ``url`` (2
    clients; creates the pgbench tables there at ``scale``)."""
    import re
    import subprocess

    from pgwarden.server import bin_path

    exe = bin_path() / "pgbench"
    subprocess.run([str(exe), "-i", "-q", "-s", str(scale), url], capture_output=True, check=True)
    out = subprocess.run(
        [str(exe), "-T", str(seconds), "-c", "2", "-j", "2", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"tps = ([\d.]+)", out)
    return float(match.group(1)) if match else 0.0


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds process ``pid`` has used so far (Linux /proc); None when no
    such process is on this host (a server elsewhere, a process gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_of() -> dict[int, list[int]]:
    """Every process's children (Linux /proc)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    tree = children_of()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(tree.get(p, []))
    return out


def postgres_pids(url: str) -> list[int]:
    """The postmaster serving ``url`` and its children; empty when it is not on this host."""
    with psycopg.connect(url) as conn:  # read while the backend lives
        try:
            stat = Path(f"/proc/{conn.info.backend_pid}/stat").read_text()
        except OSError:
            return []
    return process_tree(int(stat.rsplit(")", 1)[1].split()[1]))


def machine_busy() -> float:
    """CPU seconds every core of the machine has been busy (not idle, not waiting on I/O)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Cpu:
    """CPU seconds of groups of processes between ``start()`` and ``stop()``. A group's pids
    are listed again at ``stop()`` (processes born during the window count from zero)."""

    def __init__(self, groups: dict[str, Any]):
        self.groups = groups  # name -> callable returning pids
        self.before: dict[int, float] = {}
        self.used: dict[str, float] = {}

    def _read(self) -> dict[str, dict[int, float]]:
        return {
            name: {p: c for p in pids() if (c := cpu_seconds(p)) is not None}
            for name, pids in self.groups.items()
        }

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        end = self._read()
        self.used = {
            name: sum(c - self._start[name].get(p, 0.0) for p, c in end[name].items())
            for name in self.groups
        }
        return self.used


def children_cpu() -> float:
    """CPU seconds of this process's children that ended and were waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_http_load(
    port: int, requests: list[list[Any]], seconds: float, connections: int
) -> dict[str, Any]:
    """bench/_http_load.py in a process of its own: ``connections`` keep-alive connections to
    127.0.0.1:``port`` cycling through ``requests`` ([method, path, headers, body]) for
    ``seconds``; its JSON report (``latencies_ms``, ``statuses``, ``seconds``, ...)."""
    plan = {
        "host": "127.0.0.1",
        "port": port,
        "seconds": seconds,
        "connections": connections,
        "requests": requests,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(plan, f)
        f.flush()
        done = subprocess.run(
            [sys.executable, str(Path(__file__).parent / "_http_load.py"), f.name],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def database_backends(url: str) -> list[int]:
    """The server processes of ``url``'s database other than this query's own."""
    with psycopg.connect(url) as conn:
        return [
            int(pid)
            for (pid,) in conn.execute(
                "select pid from pg_stat_activity "
                "where datname = current_database() and pid <> pg_backend_pid()"
            )
        ]


def timed(fn: Callable[[], Any], repeat: int = 1) -> float:
    """Median wall time of ``fn`` in seconds over ``repeat`` runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def percentile(samples: list[float], pct: float) -> float:
    """The ``pct``-th percentile of ``samples`` (nearest rank)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes): other work skews the figures."""
    import os

    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        return f"PostgreSQL {conn.info.parameter_status('server_version')}"
