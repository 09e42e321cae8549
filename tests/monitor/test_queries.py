"""Query checks and history on pg_stat_statements (the embedded server preloads it; on a
server without it the checks say so instead of failing): slow by mean and by total, temp
spills, cache misses, regressions against history, index suggestions proven by plans, and
snapshots that never reset the statistics."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest
from tests.monitor.conftest import found, objects, warden_for

from pgwarden.ops.monitor import Severity

needs_statements = pytest.mark.usefixtures("require_statements")


def _flush(conn: psycopg.Connection[Any]) -> None:
    conn.execute("select pg_stat_force_next_flush()")


@needs_statements
def test_slow_queries_by_mean_and_total(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    for _ in range(12):
        module_conn.execute("select pg_sleep(0.02)")
    for _ in range(12):
        module_conn.execute("select count(*) from pg_am")
    toml = '[monitor]\nslow_query = "10ms"\nslow_total_pct = 20\n'
    with warden_for(module_db, toml) as warden:
        report = warden.monitor.doctor(["query.slow_mean", "query.slow_total"])
    (slow,) = [f for f in found(report, "query.slow_mean") if "pg_sleep" in f.detail]
    assert slow.evidence["calls"] >= 12 and slow.evidence["mean_ms"] >= 20
    assert any("pg_sleep" in f.detail for f in found(report, "query.slow_total"))
    assert not any("pg_am" in f.detail for f in report.findings)
    with warden_for(module_db) as warden:  # defaults: 1 s
        calm = warden.monitor.doctor(["query.slow_mean"])
    assert not any("pg_sleep" in f.detail for f in calm.findings)


@needs_statements
def test_temp_spill_and_cache_misses(module_db: str, module_conn: psycopg.Connection[Any]) -> None:
    with module_conn.transaction():
        module_conn.execute("set local work_mem = '64kB'")
        for _ in range(2):
            module_conn.execute(
                "select g as spill from generate_series(1, 200000) g order by g desc limit 1"
            )
    module_conn.execute("select g as fits from generate_series(1, 2000) g order by g limit 1")
    with warden_for(module_db, '[monitor]\ntemp_spill = "1 MB"') as warden:
        report = warden.monitor.doctor(["query.temp_spill", "query.cache_hit"])
    spills = [f for f in found(report, "query.temp_spill")]
    assert any("spill" in f.detail for f in spills)
    assert not any("fits" in f.detail for f in spills)
    assert all(f.evidence["temp_bytes"] >= 1024 * 1024 for f in spills)


@needs_statements
def test_index_suggestions_are_proven_and_never_duplicate_an_index(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    module_conn.execute(
        "create table orders (id int primary key, customer int, status text, placed date, pad text)"
    )
    module_conn.execute(
        "insert into orders select g, g % 500, 'open', date '2026-01-01' + g % 300, repeat('p', 80) "
        "from generate_series(1, 30000) g"
    )
    # Look-alike 1: the same filter, served by a composite btree whose prefix is the column.
    module_conn.execute(
        "create table served (id int primary key, customer int, placed date, pad text)"
    )
    module_conn.execute(
        "insert into served select g, g % 500, date '2026-01-01' + g % 300, repeat('p', 80) "
        "from generate_series(1, 30000) g"
    )
    module_conn.execute("create index served_customer_placed on served (customer, placed)")
    # Look-alike 2: a range filter a GiST index serves (a btree cannot serve &&).
    module_conn.execute("create table spans (id int primary key, during tsrange, pad text)")
    module_conn.execute(
        "insert into spans select g, tsrange(timestamp '2026-01-01' + g * interval '1 min', "
        "timestamp '2026-01-01' + g * interval '1 min' + interval '5 min'), repeat('p', 80) "
        "from generate_series(1, 30000) g"
    )
    module_conn.execute("create index spans_during on spans using gist (during)")
    module_conn.execute("analyze orders, served, spans")
    for i in range(12):
        module_conn.execute("select id from orders where customer = %s and status = 'open'", (i,))
        module_conn.execute("select id from served where customer = %s", (i,))
        module_conn.execute(
            "select id from spans where during && tsrange(%s::timestamp, %s::timestamp)",
            (dt.datetime(2026, 1, 2), dt.datetime(2026, 1, 2, 1)),
        )
    with warden_for(module_db) as warden:
        report = warden.monitor.doctor(["index.suggested"])
    suggested = found(report, "index.suggested")
    assert [f.object for f in suggested] == ["public.orders (customer, status)"]
    (advice,) = suggested
    assert "Seq Scan on orders" in advice.detail and "customer" in advice.detail
    assert advice.evidence["calls"] >= 12
    assert advice.fix is not None and "CONCURRENTLY" in advice.fix.statements[0]
    # Applying it makes the suggestion go away: the index now serves the query.
    with warden_for(module_db) as warden:
        warden.monitor.fix("index.suggested")
        assert not found(warden.monitor.doctor(["index.suggested"]), "index.suggested")


@needs_statements
def test_ltree_gist_index_is_never_second_guessed(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    available = module_conn.execute(
        "select 1 from pg_available_extensions where name = 'ltree'"
    ).fetchone()
    if not available:
        pytest.skip("ltree is not available on this server")
    module_conn.execute("create extension if not exists ltree")
    module_conn.execute("create table tree (id int primary key, path ltree, pad text)")
    module_conn.execute(
        "insert into tree select g, text2ltree('top.' || (g % 50) || '.' || g), repeat('p', 80) "
        "from generate_series(1, 30000) g"
    )
    module_conn.execute("create index tree_path on tree using gist (path)")
    module_conn.execute("analyze tree")
    for i in range(12):
        module_conn.execute("select id from tree where path <@ %s::ltree", (f"top.{i}",))
    with warden_for(module_db) as warden:
        report = warden.monitor.doctor(["index.suggested"])
    assert not [f for f in found(report, "index.suggested") if "tree" in f.object]


@needs_statements
def test_snapshots_store_deltas_and_never_reset(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    module_conn.execute("create table counted (id int)")
    # stats_reset moves only with pg_stat_statements_reset(); dealloc (evictions at
    # pg_stat_statements.max) is moved by every other test sharing the server.
    info = "select stats_reset from pg_stat_statements_info"
    before = module_conn.execute(info).fetchone()
    with warden_for(module_db, "[monitor]\n") as warden:
        first = warden.monitor.snapshot()
        for _ in range(7):
            module_conn.execute("select count(*) from counted")
        second = warden.monitor.snapshot()
        report = warden.monitor.queries(since="1h", top=1000)
    assert module_conn.execute(info).fetchone() == before  # never reset
    assert first.statements > 0 and second.statements > 0
    rows = module_conn.execute(
        "select s.calls from warden.monitor_statements s where s.taken_at = %s and s.queryid = "
        "(select queryid from pg_stat_statements where query = 'select count(*) from counted' "
        "and dbid = (select oid from pg_database where datname = current_database()))",
        (second.taken_at,),
    ).fetchall()
    assert rows == [(7,)]  # the delta since the first snapshot, not the running total
    assert report.source == "history"
    (counted,) = [q for q in report.queries if q.query == "select count(*) from counted"]
    assert counted.calls == 7
    statements = module_conn.execute(
        "select count(*) from pg_stat_statements where toplevel and query ~* %s "
        "and dbid = (select oid from pg_database where datname = current_database())",
        (r"^\s*select\s.*pg_stat_statements_reset\s*\(",),
    ).fetchone()
    assert statements == (0,)


@needs_statements
def test_regression_against_history(module_db: str, module_conn: psycopg.Connection[Any]) -> None:
    """Two days ago the lookup was fast (an index); now it scans: the mean grew."""
    from pgwarden.ops.monitor import MonitorSection
    from pgwarden.ops.monitor._history import take_snapshot

    module_conn.execute("create table lookups (id int, v int, pad text)")
    module_conn.execute(
        "insert into lookups select g, g, repeat('q', 100) from generate_series(1, 40000) g"
    )
    module_conn.execute("create index lookups_id on lookups (id)")
    module_conn.execute("analyze lookups")
    opts = MonitorSection()
    now = dt.datetime.now(dt.UTC)
    take_snapshot(module_conn, opts, now - dt.timedelta(days=2, minutes=5))
    for i in range(20):
        module_conn.execute("select v from lookups where id = %s", (i,))
    take_snapshot(module_conn, opts, now - dt.timedelta(days=2))
    module_conn.execute("drop index lookups_id")
    for i in range(20):
        module_conn.execute("select v from lookups where id = %s", (i,))
    with warden_for(module_db, "[monitor]\n") as warden:
        warden.monitor.snapshot()
        report = warden.monitor.doctor(["query.regression"])
    (slower,) = [f for f in found(report, "query.regression") if "lookups" in f.detail]
    assert slower.evidence["change_pct"] > 50 and slower.severity is Severity.WARNING


def test_without_the_extension_checks_say_so(
    module_db: str, admin_url: str, template_db: str
) -> None:
    from tests.conftest import _with_db, scratch_database

    with (
        scratch_database(admin_url, "pgwarden_nostat", template_db) as name,
        warden_for(_with_db(admin_url, name)) as warden,
    ):
        report = warden.monitor.doctor(["query", "config.pg_stat_statements"])
        snap = warden.monitor.snapshot()
    assert objects(report, "config.pg_stat_statements") == {"extension pg_stat_statements"}
    assert {n.check for n in report.notices} >= {"query.slow_mean", "query.slow_total"}
    assert snap.statements == 0 and snap.notices


@needs_statements
def test_cache_misses(module_db: str, module_conn: psycopg.Connection[Any]) -> None:
    """Blocks evicted from shared buffers before each scan (pg_buffercache, 18+) are read;
    a small table read from the cache is the look-alike."""
    module_conn.execute("create extension if not exists pg_buffercache")
    evict = module_conn.execute(
        "select 1 from pg_proc where proname = 'pg_buffercache_evict_relation'"
    ).fetchone()
    if not evict:
        pytest.skip("pg_buffercache_evict_relation needs PostgreSQL 18")
    module_conn.execute("create table cold (id int, pad text)")
    module_conn.execute(
        "insert into cold select g, repeat('c', 100) from generate_series(1, 15000) g"
    )
    module_conn.execute("create table warm (id int)")
    module_conn.execute("insert into warm select generate_series(1, 100)")
    for _ in range(3):
        module_conn.execute("select pg_buffercache_evict_relation('cold')")
        module_conn.execute("select count(*) from cold where pad like 'x%'")
        module_conn.execute("select count(*) from warm where id > 0")
    toml = "[monitor]\nmin_blocks = 100\n"
    with warden_for(module_db, toml) as warden:
        report = warden.monitor.doctor(["query.cache_hit", "database.cache_hit"])
    misses = found(report, "query.cache_hit")
    assert any("from cold" in f.detail for f in misses)
    assert not any("from warm" in f.detail for f in misses)
    (cold,) = [f for f in misses if "from cold" in f.detail]
    assert cold.evidence["hit_pct"] < 50 and cold.evidence["blocks_read"] >= 300
