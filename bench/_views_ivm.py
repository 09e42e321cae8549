"""The incremental half of ``bench/views.py``: an incremental view against the same view
materialized, and what writers pay for it.

``sales`` (``rows``) is audited (trigger capture) and aggregated by (shop, day) twice, with
the same query: ``sales_ivm`` (``incremental = true``, kept from the change feed) and
``sales_mv`` (a materialized view with a unique key). After 1 % and 10 % of the rows change,
each is brought up to date: an incremental pass against ``REFRESH CONCURRENTLY`` and a plain
``REFRESH``. Writers: single-row UPDATEs that move rows between groups, by pgbench, on a
table with no audit, an audited one, and the audited one with the incremental view declared,
once idle and once refreshed every second while the writers run.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from audit import pgbench
from pgwarden import Warden
from pgwarden.features.materialized_views import _deltas
from pgwarden.spec import parse_spec

QUERY = (
    "select shop, day, sum(amount) as total, count(*) as n, min(amount) as lo,"
    " max(amount) as hi from {table} group by shop, day"
)
SPEC = """
[tables."public.sales"]
audit = true

[tables."public.sales_audited"]
audit = true

[materialized_views."public.sales_ivm"]
query = "{ivm}"
refresh = "1 min"
incremental = true

[materialized_views."public.sales_mv"]
query = "{mv}"
unique_key = ["shop", "day"]
refresh = "1 min"
"""
WHOLE_ABOVE = _deltas.WHOLE_ABOVE
WRITE = (
    "\\set id random(1, {rows})\n"
    "update {table} set amount = amount + 1, shop = (shop + 1) % 1000 where id = :id;\n"
)


def setup(url: str, rows: int) -> Warden:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("sales", "sales_audited", "sales_plain"):
            conn.execute(
                f"""create table {table} (id bigint primary key, shop int not null,
                                          day date not null, amount int not null)"""
            )
            conn.execute(
                f"""insert into {table} select g, g %% 1000, date '2026-01-01' + (g %% 60),
                                              g %% 97 from generate_series(1, %s) g""",
                (rows,),
            )
            # Recomputing a group's min / max reads that group's rows by this index (on all
            # three, so that the writers compared update the same indexes).
            conn.execute(f"create index on {table} (shop, day)")
        conn.execute("vacuum analyze")
    text = SPEC.format(ivm=QUERY.format(table="sales"), mv=QUERY.format(table="sales"))
    warden = Warden(url, spec=parse_spec(text, file="pgwarden.toml"))
    warden.apply()
    return warden


def _seconds(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def refresh_rows(url: str, warden: Warden, rows: int) -> tuple[list[list[str]], bool]:
    """Incremental pass vs REFRESH (CONCURRENTLY), after 1 % and 10 % of rows changed."""
    out = []
    equal = True
    with psycopg.connect(url, autocommit=True) as conn:
        for fraction in (0.01, 0.10):
            every = round(1 / fraction)
            conn.execute("update sales set amount = amount + 1 where id %% %s = 0", (every,))
            conn.execute("update sales set shop = (shop + 7) %% 1000 where id %% %s = 1", (every,))
            conn.execute("vacuum analyze sales")
            _deltas.WHOLE_ABOVE = 1.0  # the deltas (whole only past 100 %)
            inc = warden.materialized_views.refresh("public.sales_ivm")
            _deltas.WHOLE_ABOVE = WHOLE_ABOVE
            conc = _seconds(lambda: conn.execute("refresh materialized view concurrently sales_mv"))
            plain = _seconds(lambda: conn.execute("refresh materialized view sales_mv"))
            full = warden.materialized_views.refresh("public.sales_ivm", full=True)
            same = conn.execute(
                "select (select count(*) from (select * from sales_ivm except"
                " select * from sales_mv) a) + (select count(*) from (select * from sales_mv"
                " except select * from sales_ivm) b)"
            ).fetchone()
            equal = equal and same == (0,)
            how = (
                f"{inc.events:,} events, refresh {'whole' if fraction > WHOLE_ABOVE else 'deltas'}"
            )
            out.append(
                [
                    f"{fraction:.0%} ({how})",
                    f"{inc.seconds * 1000:.0f}",
                    f"{conc * 1000:.0f}",
                    f"{plain * 1000:.0f}",
                    f"{full.seconds * 1000:.0f}",
                    f"{conc / inc.seconds:.1f}x",
                ]
            )
    return out, equal


def _tps(url: str, table: str, rows: int, seconds: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(WRITE.format(rows=rows, table=table))
    out = pgbench(url, "-n", "-f", f.name, "-c", "2", "-j", "2", "-T", str(seconds))
    Path(f.name).unlink()
    line = next(x for x in out.splitlines() if x.startswith("tps"))
    return float(line.split()[2])


def _refreshing(warden: Warden, stop: threading.Event, passes: list[float]) -> None:
    while not stop.wait(1.0):
        passes.append(warden.materialized_views.refresh("public.sales_ivm").seconds)


def writer_rows(url: str, warden: Warden, rows: int, seconds: int) -> list[list[str]]:
    """TPS of single-row moving UPDATEs: no audit, audit, audit + incremental view (idle,
    and refreshed every second meanwhile); two interleaved rounds, the better of each."""
    best: dict[str, float] = {}
    passes: list[float] = []
    for _ in range(2):
        for label, table in (
            ("no audit, no view", "sales_plain"),
            ("audit, no view", "sales_audited"),
            ("audit + incremental view (no refresh running)", "sales"),
        ):
            best[label] = max(best.get(label, 0.0), _tps(url, table, rows, seconds))
        stop = threading.Event()
        refresher = threading.Thread(target=_refreshing, args=(warden, stop, passes))
        refresher.start()
        label = "audit + incremental view, refreshed every 1 s"
        best[label] = max(best.get(label, 0.0), _tps(url, "sales", rows, seconds))
        stop.set()
        refresher.join()
    plain, audited = best["no audit, no view"], best["audit, no view"]
    with psycopg.connect(url) as conn:
        triggers = conn.execute(
            "select tgrelid::regclass::text, count(*) from pg_trigger"
            " where tgrelid in ('sales'::regclass, 'sales_audited'::regclass) group by 1 order by 1"
        ).fetchall()
    out = [
        [label, f"{tps:,.0f}", f"{plain / tps:.2f}x", f"{audited / tps:.2f}x"]
        for label, tps in best.items()
    ]
    out.append([f"(triggers: {', '.join(f'{t} {n}' for t, n in triggers)})", "", "", ""])
    out.append(
        [
            f"(the refresher: {len(passes)} passes, median {statistics.median(passes) * 1000:.0f}"
            " ms)"
            if passes
            else "(no pass ran)",
            "",
            "",
            "",
        ]
    )
    return out
