"""The four Kitaab service calls the benches time, and a worker that times them on request.

``operations`` is what ``bench/kitaab.py`` samples. Run as a program, this file is a worker
for ``bench/kitaab_adoption.py``: it connects to one database with whatever pgwarden its
interpreter imports (this checkout's, or an earlier commit's in a worktree of its own) and
answers lines on stdin, ``<operation> <calls>``, with the calls' milliseconds and the CPU
nanoseconds the worker and its pool's backends used for them, as JSON.
Two workers, one per side, alive at once and asked in alternating blocks, see the machine in
the same state: minutes apart, one side's whole sample could meet a checkpoint or a busy
neighbour the other never saw.

``--cpu N`` pins the worker and the backends of its pool to CPU ``N``. On this two-core
machine a round trip took 0.15 ms when client and backend shared a core and 0.35 ms when
they did not, and the scheduler keeps a backend where it first ran: unpinned, four
connections to one database measured 0.16, 0.26, 0.26 and 0.31 ms for the same statement,
interleaved, which is more than the differences these benches look for.

    python bench/_kitaab_calls.py URL [--cpu N]   # then: "create entry 50", ..., "quit"
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

NAMES = (
    "create entry",
    "30-day dashboard",
    "permission check",
    "merit + target progress (one user)",
)


def operations(app: Any, url_conn: Any, first: int, users: int) -> dict[str, Callable[[], None]]:
    """The calls by name, over ``users`` users from ``first`` (random, seed 3: every run
    and both sides of a comparison make the same calls in the same order). ``url_conn``: a
    connection to read the first deed item's id with."""
    from pgwarden.blueprints.kitaab.generate import ITEMS

    rng = random.Random(3)
    found = url_conn.execute("select min(deed_item_id) from kitaab.deed_items").fetchone()
    first_item = int(found[0])
    future = dt.date(dt.date.today().year + 1, 1, 1)
    created = 0

    def user() -> int:
        return first + rng.randrange(users)

    def item_of(uid: int, index: int) -> int:
        return (uid - first) * len(ITEMS) + first_item + index

    def create() -> None:
        nonlocal created
        uid = user()
        day = future + dt.timedelta(days=created % 365)
        created += 1
        app.entries.record(uid, item_of(uid, 2), day, count_value=3)

    def dashboard() -> None:
        app.dashboard.summary(user())

    def check() -> None:
        follower = user()
        owner = first + (follower - first + 1) % users
        app.social.check(follower, item_of(owner, 2))

    def progress() -> None:
        app.progress.refresh(user())

    return dict(zip(NAMES, (create, dashboard, check, progress), strict=True))


def timed(fn: Callable[[], None], n: int) -> list[float]:
    """Milliseconds of each of ``n`` calls."""
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def backends(pool: Any) -> list[int]:
    """The backend pids of every connection of ``pool``."""
    held = [pool.getconn() for _ in range(pool.max_size)]
    try:
        return [conn.info.backend_pid for conn in held]
    finally:
        for conn in held:
            pool.putconn(conn)


def pin(pool: Any, cpu: int) -> list[int]:
    """Pin the backends of ``pool`` (opened, all its connections made) to CPU ``cpu``;
    returns their pids."""
    pool.wait()
    pids = backends(pool)
    for pid in pids:
        os.sched_setaffinity(pid, {cpu})
    return pids


def cpu_ns(pids: list[int]) -> int:
    """CPU nanoseconds the processes ``pids`` have run so far (/proc/<pid>/schedstat)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/schedstat") as stat:
            total += int(stat.read().split()[0])
    return total


def _serve(url: str, cpu: int | None) -> None:
    from pgwarden import Warden
    from pgwarden.blueprints import kitaab
    from pgwarden.blueprints.kitaab.services import Kitaab

    # As that side's API connects: the app role where the blueprint has one (row policies,
    # tenants signed), else the installer.
    app_warden = getattr(kitaab, "app_warden", None)
    if app_warden is not None:
        warden = app_warden(url, pool_size=4)
    else:
        warden = Warden(url, spec=kitaab.declaration(), pool_size=4)
    with warden, warden.connect() as conn:
        client = [os.getpid()]
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
            server = pin(warden.pool, cpu)
        else:
            warden.pool.wait()
            server = backends(warden.pool)
        row = conn.execute("select min(user_id), count(*) from kitaab.users").fetchone()
        calls = operations(Kitaab(warden), conn, int(row[0]), int(row[1]))
        conn.rollback()
        for fn in calls.values():  # caches and plans
            timed(fn, 50)
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "quit":
                return
            name, _, count = line.strip().rpartition(" ")
            before = cpu_ns(client), cpu_ns(server)
            ms = timed(calls[name], int(count))
            used = cpu_ns(client) - before[0], cpu_ns(server) - before[1]
            print(json.dumps({"ms": ms, "client_ns": used[0], "server_ns": used[1]}), flush=True)


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[3]) if sys.argv[2:3] == ["--cpu"] else None)
