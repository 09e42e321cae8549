"""PostgreSQL 15 with pg_stat_statements 1.10 (``blk_read_time``, no GENERIC_PLAN): a cluster
of the machine's 15 started in a temporary folder with the library preloaded (the machine's
own server is never reconfigured), so the version branches run on the version they are for.
The 16+ / 17+ branches run on the embedded 18 (test_queries.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.monitor._cluster import cluster
from tests.monitor.conftest import found, warden_for

PG15 = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture(scope="module")
def pg15_url() -> Iterator[str]:
    if not (PG15 / "postgres").exists():
        pytest.skip("PostgreSQL 15 binaries are not installed in /usr/lib/postgresql/15")
    options = "-c listen_addresses='' -c shared_preload_libraries=pg_stat_statements"
    with cluster(PG15, options) as server:
        yield server.url


def test_statements_1_10_and_prepared_generic_plans(pg15_url: str) -> None:
    with psycopg.connect(pg15_url, autocommit=True) as conn:
        assert conn.info.server_version // 10000 == 15
        conn.execute("create extension pg_stat_statements")
        version = conn.execute(
            "select extversion from pg_extension where extname = 'pg_stat_statements'"
        ).fetchone()
        assert version == ("1.10",)
        conn.execute("create table big (id int primary key, customer int, pad text)")
        conn.execute(
            "insert into big select g, g % 300, repeat('p', 80) from generate_series(1, 30000) g"
        )
        conn.execute("analyze big")
        for i in range(12):
            conn.execute("select id from big where customer = %s", (i,))
            conn.execute("select pg_sleep(0.01)")
    toml = '[monitor]\nslow_query = "5ms"\n'
    with warden_for(pg15_url, toml) as warden:
        report = warden.monitor.doctor(["query", "index.suggested", "config.checkpoints"])
        first = warden.monitor.snapshot()
        top = warden.monitor.queries(since="1h", top=5)
    # Every query check could read 1.10's columns (only history is missing yet).
    assert [n.check for n in report.notices] == ["query.regression"], report.notices
    assert any("pg_sleep" in f.detail for f in found(report, "query.slow_mean"))
    (advice,) = found(report, "index.suggested")
    assert advice.object == "public.big (customer)" and "Seq Scan on big" in advice.detail
    assert first.statements > 0 and top.source == "history" and top.queries
