"""``pgwarden serve``: /metrics at 2,000 tables, /readyz latency, the shared sampler's cost on the
database with 0 / 1 / 50 viewers, first dashboard paint in Chromium, and resident memory over a
soak with 50 viewers and a scrape every second.

    .venv/bin/python bench/serve.py [--dsn URL] [--tables 2000] [--soak 300]

``pgwarden serve`` runs as its own process (as users run it), on a throwaway embedded server
unless ``--dsn`` is given. The anchor for /metrics is postgres_exporter (Debian's
``prometheus-postgres-exporter``, default collectors) scraping the same database, when it is
installed. The machine's plain pgbench TPS (select-only, 2 clients) is printed beside the
absolute figures. A program, not a test: it prints, never asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
from websockets.sync.client import connect as ws_connect

from _common import (
    cpu_seconds,
    load,
    machine,
    percentile,
    print_table,
    scratch_db,
    server_url,
    server_version,
)
from pgwarden.server._system import bin_path

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else float("nan")


def wait_http(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the process exited ({process.returncode})")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(url, timeout=2)
            return
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


@contextlib.contextmanager
def serve(url: str, workdir: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {**os.environ, "PGWARDEN_DATABASE_URL": url}
    exe = Path(sys.executable).parent / "pgwarden"
    process = subprocess.Popen(
        [str(exe), "serve", "--port", str(port)],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", process)
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def make_tables(url: str, count: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        block = psycopg.sql.SQL(
            "do $$ begin for i in 1..{n} loop "
            "execute format('create table public.t%s (id bigint primary key, v text, "
            "at timestamptz default now())', i); "
            "execute format('insert into public.t%s (id, v) select g, ''x'' "
            "from generate_series(1, 10) g', i); end loop; end $$"
        ).format(n=psycopg.sql.Literal(count))
        conn.execute(block)
        conn.execute("analyze")


def pgbench_tps(admin_url: str) -> str:
    with scratch_db(admin_url) as url:
        exe = str(bin_path() / "pgbench")
        subprocess.run([exe, "-i", "-s", "1", "-q", url], capture_output=True, check=True)
        done = subprocess.run(
            [exe, "-S", "-c", "2", "-j", "2", "-T", "10", url],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    match = re.search(r"tps = ([\d.]+)", done.stdout)
    return f"{float(match.group(1)):,.0f}" if match else "?"


def timings(url: str, n: int, **kw: object) -> tuple[list[float], httpx.Response]:
    samples = []
    with httpx.Client(timeout=30) as client:
        for _ in range(3):
            answer = client.get(url, **kw)  # type: ignore[arg-type]
        for _ in range(n):
            start = time.perf_counter()
            answer = client.get(url, **kw)  # type: ignore[arg-type]
            samples.append((time.perf_counter() - start) * 1000)
    return samples, answer


def series(text: str) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def ms(samples: list[float]) -> list[str]:
    return [f"{statistics.median(samples):.1f}", f"{percentile(samples, 95):.1f}"]


def metrics_rows(base: str, url: str) -> list[list[str]]:
    samples, answer = timings(f"{base}/metrics", 50)
    rows = [["pgwarden serve /metrics", *ms(samples), str(series(answer.text))]]
    exporter = shutil.which("prometheus-postgres-exporter")
    if exporter is None:
        rows.append(["postgres_exporter", "not installed", "", ""])
        return rows
    port = free_port()
    env = {**os.environ, "DATA_SOURCE_NAME": url}
    process = subprocess.Popen(
        [exporter, f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/metrics", process)
        samples, answer = timings(f"http://127.0.0.1:{port}/metrics", 50)
        version = subprocess.run(
            [exporter, "--version"], capture_output=True, text=True, check=False
        )
        name = (
            "postgres_exporter "
            + (re.findall(r"version (\S+)", version.stderr + version.stdout) or ["?"])[0]
        )
        rows.append([name + " (default collectors)", *ms(samples), str(series(answer.text))])
    finally:
        process.terminate()
        process.wait(timeout=30)
    return rows


class Viewers:
    """``n`` WebSocket viewers reading /live in threads."""

    def __init__(self, base: str, n: int):
        self.url = base.replace("http://", "ws://") + "/live"
        self.n = n
        self.stop = threading.Event()
        self.received = 0
        self.threads = [threading.Thread(target=self._view, daemon=True) for _ in range(n)]

    def _view(self) -> None:
        with ws_connect(self.url, open_timeout=30, close_timeout=2) as ws:
            while not self.stop.is_set():
                with contextlib.suppress(TimeoutError):
                    ws.recv(timeout=1)
                    self.received += 1

    def __enter__(self) -> Viewers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


def database_cost(url: str) -> tuple[float, float, int]:
    """Sampler statements, their total execution ms, and the database's commits so far."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) "
            "from pg_stat_statements where query like '%pgwarden:live-sample%'"
        ).fetchone()
        commits = conn.execute(
            "select xact_commit from pg_stat_database where datname = current_database()"
        ).fetchone()
    assert row is not None and commits is not None
    return float(row[0]), float(row[1]), int(commits[0])


def sampler_rows(base: str, pid: int, url: str, seconds: float) -> list[list[str]]:
    rows = []
    for n in (0, 1, 50):
        with Viewers(base, n):
            time.sleep(3)  # everyone connected, the sampler running
            calls0, ms0, commits0 = database_cost(url)
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(seconds)
            calls1, ms1, commits1 = database_cost(url)
            cpu1, t1 = cpu_seconds(pid), time.monotonic()
            elapsed = t1 - t0
            rows.append([
                str(n), f"{(calls1 - calls0) / elapsed:.2f}", f"{(ms1 - ms0) / elapsed:.2f}",
                f"{(commits1 - commits0 - 2) / elapsed:.2f}",
                f"{100 * (cpu1 - cpu0) / elapsed:.1f}", f"{rss_mb(pid):.0f}",
            ])  # fmt: skip
    return rows


def first_paint(base: str, runs: int = 5) -> list[list[str]]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    paints, samples = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base + "/")
            page.wait_for_function("window.pgwardenLive && window.pgwardenLive.samples >= 1")
            paints.append(
                page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
            )
            samples.append(page.evaluate("window.pgwardenLive.firstSampleAt"))
            page.close()
        browser.close()
    return [
        ["first contentful paint", *ms(paints)],
        ["first live sample drawn", *ms(samples)],
    ]


def soak(base: str, pid: int, seconds: float) -> list[list[str]]:
    rows = []
    stop = threading.Event()

    def scrape() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                client.get(f"{base}/metrics")
                client.get(f"{base}/api/health")
                stop.wait(1)

    scraper = threading.Thread(target=scrape, daemon=True)
    with Viewers(base, 50) as viewers:
        scraper.start()
        start = time.monotonic()
        step = max(seconds / 10, 1)
        while (elapsed := time.monotonic() - start) <= seconds:
            rows.append([f"{elapsed:.0f}", f"{rss_mb(pid):.1f}", str(viewers.received)])
            time.sleep(step)
        stop.set()
        scraper.join(timeout=30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="a server to use (default: a throwaway embedded one)")
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--soak", type=float, default=300, help="soak length, seconds")
    parser.add_argument("--window", type=float, default=10, help="sampler window, seconds")
    args = parser.parse_args()
    print(f"machine: {machine()}; load before: {load()}")
    with server_url(args.dsn) as admin, tempfile.TemporaryDirectory() as tmp:
        print(f"server: {server_version(admin)}; pgbench -S, 2 clients: {pgbench_tps(admin)} TPS")
        with scratch_db(admin) as url:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("create extension if not exists pg_stat_statements")
            make_tables(url, args.tables)
            with serve(url, Path(tmp)) as (base, pid):
                print(f"pgwarden serve: pid {pid}, RSS at start {rss_mb(pid):.0f} MB")
                print_table(
                    f"/metrics with {args.tables:,} tables (50 scrapes, ms)",
                    ["exporter", "median", "p95", "series"],
                    metrics_rows(base, url),
                )
                ready, _ = timings(f"{base}/readyz", 500)
                health, _ = timings(f"{base}/healthz", 500)
                replica, _ = timings(f"{base}/readyz?role=primary&max_lag=16MB", 500)
                print_table(
                    "Probes (500 sequential requests, keep-alive, ms)",
                    ["probe", "median", "p95"],
                    [["/healthz", *ms(health)], ["/readyz", *ms(ready)],
                     ["/readyz?role=primary&max_lag=16MB", *ms(replica)]],
                )  # fmt: skip
                print_table(
                    f"Shared sampler, per second over {args.window:.0f} s",
                    ["viewers", "sampler statements/s", "their DB ms/s",
                     "DB commits/s (all of serve)", "serve CPU %", "serve RSS MB"],
                    sampler_rows(base, pid, url, args.window),
                )  # fmt: skip
                print_table(
                    "Dashboard in headless Chromium (5 loads, ms from navigation start)",
                    ["event", "median", "p95"],
                    first_paint(base),
                )
                print_table(
                    f"Soak: 50 viewers + /metrics and /api/health every second, {args.soak:.0f} s",
                    ["second", "serve RSS MB", "samples received (all viewers)"],
                    soak(base, pid, args.soak),
                )
    print(f"\nload after: {load()}")


if __name__ == "__main__":
    main()
