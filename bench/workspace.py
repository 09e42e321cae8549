"""The workspace blueprint against seed 002's targets, side by side in one run.

    .venv/bin/python bench/workspace.py [--dsn URL] [--orgs 20] [--tasks 100000]
                                        [--events 1000000] [--samples 300]

1. Load: organizations, users, projects and ``--tasks`` tasks in dependency chains of five
   (the generator, as the app role under row-level security, with audit, versioning, search
   and the graph's cycle checks on), then ``--events`` events through the idempotent ingest
   (batches of 5,000; one batch = one statement): rows/s against the seed's 10,000 events a
   minute. Webhook-sized deliveries (one event a transaction) too, and a redelivery of a
   batch (all duplicates).
2. The main reads as the service runs them (app role, a signed tenant transaction each, a
   random organization each time): the task board, one status column of it, what blocks a
   task (transitive), what it unblocks, search; p50 / p95 / p99 against the seed's 100 ms.
3. Analytics: 30 days of task and event figures from the materialized views (refreshed
   concurrently by ``maintain``) against the same aggregates computed live; the refresh time.
4. What row-level security costs on the board: the same statement on one warm connection as
   the app role in a signed transaction (policies applied) and as the owner with the
   organization written in the WHERE clause (no policies), and whole service calls.

The pgbench TPS of the same server is printed as the machine's anchor. A program, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).parent))
from _common import (
    load,
    machine,
    percentile,
    pgbench_tps,
    print_table,
    scratch_db,
    server_url,
    server_version,
)
from pgwarden import Warden
from pgwarden.blueprints import workspace
from pgwarden.blueprints.workspace.generate import WORDS, events_for, generate
from pgwarden.blueprints.workspace.services import Caller, Event, Workspace

BOARD = (
    "select task_id, project_id, title, status, priority, assignee_id, due_date"
    " from workspace.tasks where deleted_at is null {} order by status, priority, task_id"
    " limit 100"
)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def sample(fn: Callable[[], Any], n: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def row(name: str, samples: list[float], target: float | None = None) -> list[str]:
    p95 = percentile(samples, 95)
    verdict = "" if target is None else ("yes" if p95 < target else "NO")
    return [name, ms(percentile(samples, 50)), ms(p95), ms(percentile(samples, 99)), verdict]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", help="server to measure on (default: a throwaway embedded one)")
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    print(f"machine: {machine()}; load {load()}")
    with server_url(args.dsn) as admin, scratch_db(admin) as url:
        prefix = f"wsb{uuid.uuid4().hex[:6]}"
        try:
            run(url, prefix, args)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("drop database if exists {} with (force)").format(
                        sql.Identifier(psycopg.conninfo.conninfo_to_dict(url)["dbname"])
                    )
                )
                for slot in ("app", "readonly", "admin", "owner"):
                    name = sql.Identifier(f"{prefix}_{slot}")
                    conn.execute(sql.SQL("drop role if exists {}").format(name))


def run(url: str, prefix: str, args: argparse.Namespace) -> None:
    print(f"server: {server_version(url)}")
    now = dt.datetime.now(dt.UTC)
    days = 60
    spec = workspace.declaration(prefix)
    started = time.perf_counter()
    workspace.install(url, since=now - dt.timedelta(days=days), role_prefix=prefix).close()
    installed = time.perf_counter() - started
    app = Workspace(workspace.app_warden(url, spec, pool_size=4))
    operator = Warden(url, spec=spec)
    try:
        _measure(app, operator, url, args, now, days, installed)
    finally:
        app.warden.close()
        operator.close()


def _measure(
    app: Workspace,
    operator: Warden,
    url: str,
    args: argparse.Namespace,
    now: dt.datetime,
    days: int,
    installed: float,
) -> None:
    started = time.perf_counter()
    made = generate(app, organizations=args.orgs, tasks=args.tasks, events=0, days=days,
                    now=now, seed=1)  # fmt: skip
    generated = time.perf_counter() - started
    callers = list(made.callers)
    per_org = max(1, args.events // len(callers))
    started = time.perf_counter()
    stored = 0
    for c in callers:
        stored += app.events.ingest(c, events_for(c.organization_id, per_org, days, now, 1)).stored
    ingest = time.perf_counter() - started
    again_start = time.perf_counter()
    redelivered = app.events.ingest(
        callers[0], events_for(callers[0].organization_id, min(per_org, 50_000), days, now, 1)
    )
    again = time.perf_counter() - again_start
    hooks = 2_000
    started = time.perf_counter()
    for k in range(hooks):
        app.events.ingest(callers[k % len(callers)],
                          [Event("github", f"hook-{k}", "push", now, {"k": k})])  # fmt: skip
    webhook = time.perf_counter() - started
    with psycopg.connect(url) as conn:
        conn.execute("analyze")
        conn.commit()
    print_table(
        f"Load ({args.orgs} organizations; install {installed:.1f} s)",
        ["what", "rows", "seconds", "rows/s", "vs seed 10,000 events/min"],
        [
            ["tasks (bulk, 1,000 a statement) + dependency chains", f"{made.tasks:,}",
             f"{generated:.1f}", f"{made.tasks / generated:,.0f}", ""],
            ["events, batches of 5,000", f"{stored:,}", f"{ingest:.1f}",
             f"{stored / ingest:,.0f}", f"{stored / ingest * 60 / 10_000:,.0f}x"],
            ["events redelivered (all duplicates)", f"{redelivered.received:,}",
             f"{again:.1f}", f"{redelivered.received / again:,.0f}", ""],
            ["webhooks, one event a transaction", f"{hooks:,}", f"{webhook:.1f}",
             f"{hooks / webhook:,.0f}", f"{hooks / webhook * 60 / 10_000:,.1f}x"],
        ],
    )  # fmt: skip

    started = time.perf_counter()
    operator.maintain(names=["view-refresh"])
    refresh = time.perf_counter() - started
    rng = random.Random(5)
    with psycopg.connect(url) as conn:
        chain_ends = conn.execute(
            "select organization_id, task_id from workspace.tasks t where not exists (select"
            " from workspace.task_dependencies d where d.depends_on_id = t.task_id)"
            " and exists (select from workspace.task_dependencies d where d.task_id = t.task_id)"
        ).fetchall()
        heads = conn.execute(
            "select organization_id, task_id from workspace.tasks t where not exists (select"
            " from workspace.task_dependencies d where d.task_id = t.task_id)"
            " and exists (select from workspace.task_dependencies d"
            " where d.depends_on_id = t.task_id)"
        ).fetchall()
    owner = {c.organization_id: c for c in callers}

    def pick(pairs: list[tuple[int, int]]) -> tuple[Caller, int]:
        org, task = rng.choice(pairs)
        return owner[org], task

    n = args.samples
    reads = [
        row("task board (100 cards)", sample(lambda: app.tasks.board(rng.choice(callers)), n), 0.1),
        row("board, one status", sample(lambda: app.tasks.board(
            rng.choice(callers), status=rng.choice(("todo", "in_progress", "done"))), n), 0.1),
        row("blocked by (transitive, open)", sample(lambda: app.dependencies.blockers(
            *pick(chain_ends)), n), 0.1),
        row("unblocks (transitive)", sample(lambda: app.dependencies.unblocks(
            *pick(heads)), n), 0.1),
        row("search tasks (one word)", sample(lambda: app.tasks.search(
            rng.choice(callers), rng.choice(WORDS)), n), 0.1),
        row("search tasks (two words)", sample(lambda: app.tasks.search(
            rng.choice(callers), " ".join(rng.sample(WORDS, 2))), n), 0.1),
    ]  # fmt: skip
    print_table(f"Main reads through the services (app role, signed tenant; {n} calls each)",
                ["read", "p50 ms", "p95 ms", "p99 ms", "p95 < 100 ms"], reads)  # fmt: skip

    start, end = (now - dt.timedelta(days=30)).date(), now.date()
    k = max(20, n // 5)
    views = [
        row("tasks per day, 30 days: materialized view", sample(lambda: app.analytics.task_days(
            rng.choice(callers), start, end), k), 1.0),
        row("tasks per day, 30 days: live aggregate", sample(lambda: app.analytics.task_days(
            rng.choice(callers), start, end, live=True), k), 1.0),
        row("events per day and source: view", sample(lambda: app.analytics.event_days(
            rng.choice(callers), start, end), k), 1.0),
        row("events per day and source: live", sample(lambda: app.analytics.event_days(
            rng.choice(callers), start, end, live=True), k), 1.0),
    ]  # fmt: skip
    print_table(f"Analytics ({k} calls each; both views refreshed in {refresh:.1f} s)",
                ["query", "p50 ms", "p95 ms", "p99 ms", "p95 < 1 s"], views)  # fmt: skip

    _rls_cost(app, url, callers, n)


def _rls_cost(app: Workspace, url: str, callers: list[Caller], n: int) -> None:
    """The board statement with and without row-level security, on warm connections."""
    rng = random.Random(9)
    policy = sql.SQL(BOARD).format(sql.SQL(""))
    explicit = sql.SQL(BOARD).format(sql.SQL("and organization_id = %s"))
    rows = []
    with app.warden.session(tenant=str(callers[0].organization_id)) as db:
        conn = db.connection
        app_stmt = sample(lambda: conn.execute(policy).fetchall(), n)
    with psycopg.connect(url) as conn:
        org = callers[0].organization_id
        owner_stmt = sample(lambda: conn.execute(explicit, [org]).fetchall(), n)
    rows.append(row("statement: app role, policies (one signed transaction)", app_stmt))
    rows.append(row("statement: owner, WHERE organization_id = ...", owner_stmt))
    service = sample(lambda: app.tasks.board(rng.choice(callers)), n)

    with psycopg.connect(url, autocommit=True) as conn:

        def owner_call() -> None:
            with conn.transaction():
                conn.execute(explicit, [rng.choice(callers).organization_id]).fetchall()

        owner_tx = sample(owner_call, n)
    rows.append(row("call: service (app role, BEGIN + signed tenant + board + COMMIT)", service))
    rows.append(row("call: owner (BEGIN + board with WHERE + COMMIT)", owner_tx))
    print_table(f"What row-level security costs on the board ({n} runs each)",
                ["", "p50 ms", "p95 ms", "p99 ms", ""], rows)  # fmt: skip
    tps = pgbench_tps(url)
    print(f"\nmachine baseline: pgbench TPS {tps:,.0f} (scale 5, 2 clients, 15 s); load {load()}")


if __name__ == "__main__":
    main()
