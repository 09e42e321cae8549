"""Kitaab before and after it adopted roles and tenancy, side by side in one run: the same
``bench/kitaab.py`` figures at an earlier commit (the API as the installer, no row policies)
and at this checkout (the API as the app role, entries under per-user row-level security,
tenants signed).

    .venv/bin/python bench/kitaab_adoption.py [--before REV] [--users N] [--days D]
                                              [--samples S] [--block B] [--http-seconds T]
                                              [--rounds R] [--no-pin]

The earlier commit is checked out in a temporary git worktree with a virtualenv of its own
(``make .venv/.installed`` there: its entry points are not this checkout's). Each side
installs Kitaab with its own code and generates the same data into a database of its own on
one throwaway embedded server. The service calls are timed by two workers alive at once
(``bench/_kitaab_calls.py``, each run by its side's interpreter, so with its side's code),
asked in alternating blocks of ``--block`` calls, each worker and its connections' backends
pinned to one CPU (``--no-pin``: not): both sides meet the machine in the same states, where
timing one side's whole sample minutes after the other's let a checkpoint or a neighbour's
burst fall on one side only (the same code measured 1.04x and 1.71x of itself that way).
Then ``bench/kitaab.py --reuse`` measures the HTTP API of the two sides in ``--rounds``
alternating rounds (before, after, after, before, ...), and the table shows each figure's
median over the rounds: a single 15 s HTTP round of one side varied by ±12 % between runs on
a quiet machine, more than the difference being measured. Audit capture is pinned to
triggers on both sides (the earlier commit had no other default), so the difference is the
adoption. A program, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import (
    load,
    machine,
    percentile,
    pgbench_tps,
    print_table,
    scratch_db,
    server_url,
)
from _kitaab_calls import NAMES

HERE = Path(__file__).resolve().parent.parent
BEFORE = "ecacc6a"  # main before the roles and tenancy work (Kitaab's API as the installer)


def _tables(output: str) -> dict[str, list[str]]:
    """The rows of every table ``bench/kitaab.py`` printed, by their first cell."""
    rows: dict[str, list[str]] = {}
    for line in output.splitlines():
        if line.startswith("| ") and not line.startswith("|-"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows.setdefault(cells[0], cells)
    return rows


_GENERATE = """
import sys
from pgwarden.blueprints import kitaab
from pgwarden.blueprints.kitaab.generate import generate
url, users, days = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kitaab.install(url).close()
generate(url, users, days, demo_login=False)
kitaab.install(url).close()  # rows of an earlier year leave the default partition
"""

_ENV = {**os.environ, "PGWARDEN_AUDIT_CAPTURE": "trigger"}


def _generate(root: Path, python: Path, url: str, args: argparse.Namespace) -> None:
    """Kitaab installed by ``root``'s code into ``url``, and the data generated."""
    print(f"# {root.name}: install and generate {args.users} users, {args.days} days", flush=True)
    command = [str(python), "-c", _GENERATE, url, str(args.users), str(args.days)]
    subprocess.run(command, cwd=root, env=_ENV, check=True, capture_output=True)
    # Both databases in the same physical state (hint bits, visibility map, statistics), as
    # bench/kitaab.py leaves its own: whichever autovacuum reached first ran faster.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("vacuum analyze")


def _run(root: Path, command: list[str]) -> dict[str, list[str]]:
    print(f"# {root.name}: {' '.join(command[1:])}", flush=True)
    done = subprocess.run(command, cwd=root, env=_ENV, capture_output=True, text=True)
    sys.stdout.write(done.stdout)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"bench/kitaab.py failed in {root} (exit {done.returncode})")
    return _tables(done.stdout)


def _http(root: Path, python: Path, url: str, args: argparse.Namespace) -> dict[str, list[str]]:
    """The HTTP figures by this checkout's bench/kitaab.py for either side: the same load and
    CPU accounting for both; only its HTTP part runs, which needs nothing of the side's code
    but ``pgwarden kitaab serve``."""
    return _run(root, [
        str(python), str(HERE / "bench" / "kitaab.py"), "--reuse", url, "--samples", "0",
        "--http-seconds", str(args.http_seconds), "--workers", "1",
    ])  # fmt: skip


@dataclass
class Calls:
    """One side's calls of one operation: their milliseconds, and the CPU its worker and its
    worker's backends used for them."""

    ms: list[float] = field(default_factory=list)
    client_ns: int = 0
    server_ns: int = 0

    def cpu_ms(self, ns: int) -> str:
        return f"{ns / len(self.ms) / 1e6:.3f}"


def _services(
    roots: dict[str, tuple[Path, Path]], urls: dict[str, str], args: argparse.Namespace
) -> dict[str, dict[str, Calls]]:
    """Milliseconds and CPU of every service call by side and operation, the two sides' workers
    asked in alternating blocks (before first in even blocks, after first in odd ones)."""
    workers = {}
    try:
        for side, (root, python) in roots.items():
            print(f"# {root.name}: service calls (worker)", flush=True)
            workers[side] = subprocess.Popen(
                [str(python), str(HERE / "bench" / "_kitaab_calls.py"), urls[side],
                 *(["--cpu", "0"] if args.pin else [])],
                cwd=root, env=_ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
        for side, worker in workers.items():
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise SystemExit(f"the {side} side's worker did not start")
        times: dict[str, dict[str, Calls]] = {side: {} for side in workers}
        for name in NAMES:
            for block in range(max(1, args.samples // args.block)):
                order = ("before", "after") if block % 2 == 0 else ("after", "before")
                for side in order:
                    worker = workers[side]
                    assert worker.stdin is not None and worker.stdout is not None
                    worker.stdin.write(f"{name} {args.block}\n")
                    worker.stdin.flush()
                    answer = json.loads(worker.stdout.readline())
                    calls = times[side].setdefault(name, Calls())
                    calls.ms.extend(answer["ms"])
                    calls.client_ns += answer["client_ns"]
                    calls.server_ns += answer["server_ns"]
        return times
    finally:
        for worker in workers.values():
            if worker.stdin is not None and worker.poll() is None:
                worker.stdin.write("quit\n")
                worker.stdin.close()
            worker.wait(60)


def _median(rounds: list[dict[str, list[str]]], name: str, column: int) -> str:
    values = [_rate(r[name][column]) for r in rounds if name in r]
    return f"{statistics.median(values):,.2f}" if values else "-"


def _rate(cell: str) -> float:
    return float(cell.rstrip("/s").replace(",", ""))


def _ratio(before: str, after: str) -> str:
    b, a = _rate(before), _rate(after)
    return f"{a / b:.2f}x" if b else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default=BEFORE, help=f"the earlier commit (default {BEFORE})")
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--samples", type=int, default=1000, help="service calls per side")
    parser.add_argument("--block", type=int, default=50, help="calls per alternating block")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="each service worker and its backends on CPU 0 (see bench/_kitaab_calls.py)",
    )
    parser.add_argument("--http-seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side")
    args = parser.parse_args()
    sides: dict[str, list[dict[str, list[str]]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="pgwarden-before-") as tmp:
        old = Path(tmp) / "before"
        subprocess.run(
            ["git", "-C", str(HERE), "worktree", "add", "--quiet", "--detach", str(old),
             args.before], check=True,
        )  # fmt: skip
        try:
            subprocess.run(["make", "-C", str(old), "--quiet", ".venv/.installed"], check=True)
            roots = {
                "before": (old, old / ".venv" / "bin" / "python"),
                "after": (HERE, Path(sys.executable)),
            }
            with (
                server_url(None) as admin,
                scratch_db(admin) as before_url,
                scratch_db(admin) as after_url,
            ):
                urls = {"before": before_url, "after": after_url}
                for side, (root, python) in roots.items():
                    _generate(root, python, urls[side], args)
                calls = _services(roots, urls, args)
                for n in range(args.rounds):
                    order = ("before", "after") if n % 2 == 0 else ("after", "before")
                    for side in order:
                        root, python = roots[side]
                        sides[side].append(_http(root, python, urls[side], args))
                tps = pgbench_tps(before_url)
        finally:
            subprocess.run(
                ["git", "-C", str(HERE), "worktree", "remove", "--force", str(old)], check=True
            )
    before, after = sides["before"], sides["after"]
    print(
        f"\n# {machine()}; load {load()}; plain pgbench TPS {tps:,.0f} (scale 5, 2 clients); "
        f"HTTP: medians of {args.rounds} alternating rounds"
    )
    service = []
    for name in NAMES:
        b, a = calls["before"][name], calls["after"][name]
        cells = [f"{percentile(c.ms, pct):.2f}" for pct in (50, 95) for c in (b, a)]
        service.append([
            name, *cells, _ratio(cells[2], cells[3]), b.cpu_ms(b.client_ns),
            a.cpu_ms(a.client_ns), b.cpu_ms(b.server_ns), a.cpu_ms(a.server_ns),
        ])  # fmt: skip
    print_table(
        f"Service level, {args.samples} calls each in alternating blocks of {args.block}"
        f"{', pinned to CPU 0' if args.pin else ''} (ms):"
        f" before ({args.before}) and after",
        [
            "operation",
            "p50 before",
            "p50 after",
            "p95 before",
            "p95 after",
            "p95 after/before",
            "client CPU ms/call before",
            "after",
            "PostgreSQL CPU ms/call before",
            "after",
        ],
        service,
    )
    http = []
    for name in sorted({n for r in before + after for n in r if n.startswith("PUT /entries")}):
        rates = [_median(before, name, 2), _median(after, name, 2)]
        pairs = list(zip(before, after, strict=True))
        each = " / ".join(f"{b[name][2]} vs {a[name][2]}" for b, a in pairs)
        # Each round's two sides ran back to back: their ratio is what the machine's drift
        # between rounds leaves alone (one run's rounds: 0.79x, 0.99x, 1.00x, while the
        # medians of each side's rates made 0.80x).
        paired = statistics.median(_rate(a[name][2]) / _rate(b[name][2]) for b, a in pairs)
        cpu = [_median(side, name, column) for column in (5, 6) for side in (before, after)]
        http.append([
            name, *rates, f"{paired:.2f}x", _median(before, name, 4), _median(after, name, 4),
            *cpu, each,
        ])  # fmt: skip
    print_table(
        f"HTTP PUT /entries, {args.http_seconds:.0f} s rounds: before ({args.before}) and after",
        [
            "load",
            "rate before",
            "rate after",
            "after/before (median of rounds' ratios)",
            "p95 ms before",
            "p95 ms after",
            "server CPU ms/req before",
            "after",
            "PostgreSQL CPU ms/req before",
            "after",
            "each round (before vs after)",
        ],
        http,
    )
    print(
        f"\nrerun: .venv/bin/python bench/kitaab_adoption.py --before {args.before} "
        f"--users {args.users} --days {args.days} --samples {args.samples} "
        f"--block {args.block}{'' if args.pin else ' --no-pin'} "
        f"--http-seconds {args.http_seconds:g} --rounds {args.rounds}"
    )


if __name__ == "__main__":
    main()
