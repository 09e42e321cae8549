"""Kitaab before and after it adopted roles and tenancy, side by side in one run: the same
``bench/kitaab.py`` figures at an earlier commit (the API as the installer, no row policies)
and at this checkout (the API as the app role, entries under per-user row-level security,
tenants signed).

    .venv/bin/python bench/kitaab_adoption.py [--before REV] [--users N] [--days D]
                                              [--samples S] [--http-seconds T]

The earlier commit is checked out in a temporary git worktree with a virtualenv of its own
(``make .venv/.installed`` there: its entry points are not this checkout's); each side
generates the same data on a throwaway embedded server of its own, one after the other.
Audit capture is pinned to triggers on both sides (the earlier commit had no other default),
so the difference is the adoption. A program, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
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


def _run(root: Path, python: Path, args: argparse.Namespace) -> dict[str, list[str]]:
    command = [
        str(python), str(root / "bench" / "kitaab.py"), "--users", str(args.users),
        "--days", str(args.days), "--samples", str(args.samples),
        "--http-seconds", str(args.http_seconds), "--workers", "1",
    ]  # fmt: skip
    env = {**os.environ, "PGWARDEN_AUDIT_CAPTURE": "trigger"}
    print(f"# {root.name}: {' '.join(command[1:])}", flush=True)
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    sys.stdout.write(done.stdout)
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"bench/kitaab.py failed in {root} (exit {done.returncode})")
    return _tables(done.stdout)


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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pgwarden-before-") as tmp:
        old = Path(tmp) / "before"
        subprocess.run(
            ["git", "-C", str(HERE), "worktree", "add", "--quiet", "--detach", str(old),
             args.before], check=True,
        )  # fmt: skip
        try:
            subprocess.run(["make", "-C", str(old), "--quiet", ".venv/.installed"], check=True)
            before = _run(old, old / ".venv" / "bin" / "python", args)
            after = _run(HERE, Path(sys.executable), args)
        finally:
            subprocess.run(
                ["git", "-C", str(HERE), "worktree", "remove", "--force", str(old)], check=True
            )
    with server_url(None) as admin, scratch_db(admin) as url:
        tps = pgbench_tps(url)
    print(f"\n# {machine()}; load {load()}; plain pgbench TPS {tps:,.0f} (scale 5, 2 clients)")
    service = [
        [name, b[1], a[1], b[2], a[2], _ratio(b[2], a[2])]
        for name, b in before.items()
        if (a := after.get(name)) and name in (
            "create entry", "30-day dashboard", "permission check",
            "merit + target progress (one user)",
        )
    ]  # fmt: skip
    print_table(
        f"Service level, {args.samples} calls each (ms): before ({args.before}) and after",
        ["operation", "p50 before", "p50 after", "p95 before", "p95 after", "p95 after/before"],
        service,
    )
    http = [
        [name, b[2], a[2], _ratio(b[2], a[2]), b[4], a[4]]
        for name, b in before.items()
        if name.startswith("PUT /entries") and (a := after.get(name))
    ]
    print_table(
        f"HTTP PUT /entries, {args.http_seconds:.0f} s: before ({args.before}) and after",
        ["load", "rate before", "rate after", "after/before", "p95 ms before", "p95 ms after"],
        http,
    )
    print(
        f"\nrerun: .venv/bin/python bench/kitaab_adoption.py --before {args.before} "
        f"--users {args.users} --days {args.days} --samples {args.samples} "
        f"--http-seconds {args.http_seconds:g}"
    )


if __name__ == "__main__":
    main()
