"""Kitaab's 30-day dashboard live against the same figures from a declared materialized view
(``bench/kitaab.py --dashboard-view``).

The view is the dashboard's own query without the user and the dates, grouped by (user, day,
category), declared as ``[materialized_views."kitaab.dashboard_days"]`` with that unique key
(so it refreshes CONCURRENTLY): measured are its build, a concurrent refresh, and the p50 /
p95 of the dashboard's read from it, beside the live dashboard (``Dashboard.summary``) over
the same random users. It joins three tables, so it cannot be incremental (the plan says so).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

from pgwarden import Warden
from pgwarden.blueprints import kitaab
from pgwarden.blueprints.kitaab.services import Kitaab
from pgwarden.spec import parse_spec

VIEW = "kitaab.dashboard_days"
QUERY = (
    "select e.user_id, e.entry_date, d.category_type::text as category, count(*) as entries, "
    "coalesce(sum(e.count_value), 0) as total_count, count(e.scale_value_id) as scale_entries "
    "from kitaab.entries e join kitaab.deed_items di on di.deed_item_id = e.deed_item_id "
    "join kitaab.deeds d on d.deed_id = di.deed_id "
    "where di.is_active and d.deleted_at is null group by 1, 2, 3"
)
DECLARATION = f"""
[materialized_views."{VIEW}"]
query = "{QUERY}"
unique_key = ["user_id", "entry_date", "category"]
refresh = "5 min"
"""
LABELS = (
    "its query live (the dashboard's SELECT)",
    "its query from the view",
    "whole Dashboard.summary (live, as shipped)",
)
LIVE = (
    "select e.entry_date, d.category_type::text as category, count(*) as entries, "
    "coalesce(sum(e.count_value), 0) as total_count, count(e.scale_value_id) as scale_entries "
    "from kitaab.entries e join kitaab.deed_items di on di.deed_item_id = e.deed_item_id "
    "join kitaab.deeds d on d.deed_id = di.deed_id where e.user_id = %s and e.entry_date "
    "between %s and %s and di.is_active and d.deleted_at is null "
    "group by e.entry_date, d.category_type order by e.entry_date, category"
)
READ = (
    "select entry_date, category, entries, total_count, scale_entries from kitaab.dashboard_days"
    " where user_id = %s and entry_date between %s and %s order by entry_date, category"
)


def compare(url: str, users: int, first: int, n: int) -> list[list[str]]:
    from _common import percentile

    spec = parse_spec(kitaab.DECLARATION.read_text() + DECLARATION, file=str(kitaab.DECLARATION))
    rng = random.Random(5)
    out: list[list[str]] = []
    with Warden(url, spec=spec, pool_size=4) as w:
        plan = w.plan()
        line = next(c.description for c in plan.changes if "dashboard_days" in c.description)
        start = time.perf_counter()
        w.apply()
        built = time.perf_counter() - start
        refreshed = w.materialized_views.refresh(VIEW)
        app = Kitaab(w)
        today = dt.date.today()
        since = today - dt.timedelta(days=29)
        calls: dict[str, list[float]] = {label: [] for label in LABELS}

        def timed(label: str, fn: Any, *args: Any) -> None:
            t = time.perf_counter()
            fn(*args)
            calls[label].append((time.perf_counter() - t) * 1000)

        def query(conn: Any, text: str, user: int) -> Any:
            return conn.execute(text, (user, since, today)).fetchall()

        # Interleaved, the same user for the three in each round: the machine's load drifts
        # alike for all of them.
        for _ in range(n + 50):
            user = first + rng.randrange(users)
            with w.pool.connection() as conn:
                timed(LABELS[0], query, conn, LIVE, user)
                timed(LABELS[1], query, conn, READ, user)
            timed(LABELS[2], app.dashboard.summary, user)
        for label in LABELS:
            ms = calls[label][50:]  # the first 50: warming caches and plans
            out.append([label, f"{percentile(ms, 50):.2f}", f"{percentile(ms, 95):.2f}", "", ""])
        with w.connect() as conn:
            counted = conn.execute("select count(*) from kitaab.dashboard_days").fetchone()
            entries = conn.execute("select count(*) from kitaab.entries").fetchone()
        out.append(
            [
                f"view: {counted[0] if counted else 0:,} rows for "
                f"{entries[0] if entries else 0:,} entries",
                "",
                "",
                f"{built * 1000:,.0f}",
                f"{refreshed.seconds * 1000:,.0f}",
            ]
        )
        out.append([f"plan: {line}", "", "", "", ""])
    return out
