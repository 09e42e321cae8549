"""Kitaab before and after it adopted roles and tenancy, side by side in one run: the same
``bench/kitaab.py`` figures at an earlier commit (the API as the installer, no row policies)
and at this checkout (the API as the app role, entries under per-user row-level security,
tenants signed).

    .venv/bin/python bench/kitaab_adoption.py [--before REV] [--users N] [--days D]
                                              [--samples S] [--http-seconds T] [--rounds R]

The earlier commit is checked out in a temporary git worktree with a virtualenv of its own
(``make .venv/.installed`` there: its entry points are not this checkout's). Each side
installs Kitaab with its own code and generates the same data into a database of its own on
one throwaway embedded server; then ``bench/kitaab.py --reuse`` measures the two sides in
``--rounds`` alternating rounds (before, after, after, before, ...), and the table shows each
figure's median over the rounds: a single 15 s HTTP round of one side varied by ±12 % between
runs on a quiet machine, more than the difference being measured. Audit capture is pinned to
triggers on both sides (the earlier commit had no other default), so the difference is the
adoption. A program, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import load, machine, pgbench_tps, print_table, scratch_db, server_url

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


def _run(root: Path, command: list[str]) -> dict[str, list[str]]:
    print(f"# {root.name}: {' '.join(command[1:])}", flush=True)
    done = subprocess.run(command, cwd=root, env=_ENV, capture_output=True, text=True)
    sys.stdout.write(done.stdout)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"bench/kitaab.py failed in {root} (exit {done.returncode})")
    return _tables(done.stdout)


def _measure(root: Path, python: Path, url: str, args: argparse.Namespace) -> dict[str, list[str]]:
    """The service figures by ``root``'s own bench/kitaab.py (its services differ), then the
    HTTP figures by this checkout's (the same load and CPU accounting for both sides; only
    its HTTP part runs, which needs nothing of the side's code but ``pgwarden kitaab
    serve``)."""
    service = _run(root, [
        str(python), str(root / "bench" / "kitaab.py"), "--reuse", url,
        "--samples", str(args.samples), "--http-seconds", "1", "--workers", "1",
    ])  # fmt: skip
    http = _run(root, [
        str(python), str(HERE / "bench" / "kitaab.py"), "--reuse", url, "--samples", "0",
        "--http-seconds", str(args.http_seconds), "--workers", "1",
    ])  # fmt: skip
    return {**service, **http}


def _median(rounds: list[dict[str, list[str]]], name: str, column: int) -> str:
    values = [float(r[name][column].rstrip("/s").replace(",", "")) for r in rounds if name in r]
    return f"{statistics.median(values):,.2f}" if values else "-"


def _ratio(before: str, after: str) -> str:
    b, a = float(before.rstrip("/s").replace(",", "")), float(after.rstrip("/s").replace(",", ""))
    return f"{a / b:.2f}x" if b else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default=BEFORE, help=f"the earlier commit (default {BEFORE})")
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--samples", type=int, default=1000)
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
                for n in range(args.rounds):
                    order = ("before", "after") if n % 2 == 0 else ("after", "before")
                    for side in order:
                        root, python = roots[side]
                        sides[side].append(_measure(root, python, urls[side], args))
                tps = pgbench_tps(before_url)
        finally:
            subprocess.run(
                ["git", "-C", str(HERE), "worktree", "remove", "--force", str(old)], check=True
            )
    before, after = sides["before"], sides["after"]
    print(
        f"\n# {machine()}; load {load()}; plain pgbench TPS {tps:,.0f} (scale 5, 2 clients); "
        f"medians of {args.rounds} alternating rounds"
    )
    names = (
        "create entry", "30-day dashboard", "permission check",
        "merit + target progress (one user)",
    )  # fmt: skip
    service = []
    for name in names:
        cells = [_median(before, name, 1), _median(after, name, 1)]
        cells += [_median(before, name, 2), _median(after, name, 2)]
        service.append([name, *cells, _ratio(cells[2], cells[3])])
    print_table(
        f"Service level, {args.samples} calls each (ms): before ({args.before}) and after",
        ["operation", "p50 before", "p50 after", "p95 before", "p95 after", "p95 after/before"],
        service,
    )
    http = []
    for name in sorted({n for r in before + after for n in r if n.startswith("PUT /entries")}):
        rates = [_median(before, name, 2), _median(after, name, 2)]
        each = " / ".join(
            f"{r[name][2]} vs {a[name][2]}" for r, a in zip(before, after, strict=True)
        )
        cpu = [_median(side, name, column) for column in (5, 6) for side in (before, after)]
        http.append([
            name, *rates, _ratio(*rates), _median(before, name, 4), _median(after, name, 4),
            *cpu, each,
        ])  # fmt: skip
    print_table(
        f"HTTP PUT /entries, {args.http_seconds:.0f} s rounds: before ({args.before}) and after",
        [
            "load",
            "rate before",
            "rate after",
            "after/before",
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
        f"--http-seconds {args.http_seconds:g} --rounds {args.rounds}"
    )


if __name__ == "__main__":
    main()
