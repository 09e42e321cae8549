"""/metrics parsed by prometheus_client's own parser, on the server under test."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families
from tests.serve.conftest import free_port, serving
from tests.tools import require_tool

from pgwarden import Warden
from pgwarden.api import ServeSection, create_app
from pgwarden.spec import parse_spec

CORE = {
    "pg_up", "pg_exporter_last_scrape_error", "pg_static", "pg_postmaster_start_time_seconds",
    "pg_stat_database_xact_commit", "pg_stat_database_xact_rollback",
    "pg_stat_database_blks_hit", "pg_stat_database_numbackends",
    "pg_stat_activity_count", "pg_stat_activity_max_tx_duration", "pg_locks_count",
    "pg_replication_lag_seconds", "pg_replication_is_replica", "pg_settings_max_connections",
    "pg_stat_user_tables_n_live_tup", "pgwarden_scrape_duration_seconds", "pgwarden_scrapes",
    "pgwarden_scrape_errors", "pgwarden_live_viewers", "process_resident_memory_bytes",
}  # fmt: skip


def scrape(url: str, **kw: Any) -> dict[str, Any]:
    answer = httpx.get(f"{url}/metrics", **kw)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(answer.text)}


def value(families: dict[str, Any], name: str, **labels: str) -> float:
    found = [
        s.value
        for s in families[name].samples
        if all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (name, labels, families[name].samples)
    return float(found[0])


def test_metrics_names_values_and_bounded_series(db_url: str, conn: psycopg.Connection) -> None:
    conn.execute("create table public.busy (id int primary key, v text)")
    conn.execute("insert into public.busy select g, 'x' from generate_series(1, 500) g")
    conn.execute("analyze public.busy")
    dbname = conn.info.dbname
    warden = Warden(db_url)
    with serving(create_app(warden, close_warden=True)) as url:
        first = scrape(url)
        assert set(first) >= CORE, CORE - set(first)
        assert value(first, "pg_up") == 1
        assert value(first, "pg_exporter_last_scrape_error") == 0
        commits = value(first, "pg_stat_database_xact_commit", datname=dbname)
        assert value(first, "pg_stat_user_tables_n_live_tup", relname="busy") == 500
        assert first["pg_stat_database_xact_commit"].type == "unknown"  # exporter's name kept
        for _ in range(5):
            conn.execute("select 1")
        # Statistics reach pg_stat_database when the backend flushes them (at most ~1 s).
        if conn.info.server_version >= 150000:
            conn.execute("select pg_stat_force_next_flush()")
        second = scrape(url)
        assert value(second, "pg_stat_database_xact_commit", datname=dbname) > commits
        assert value(second, "pgwarden_scrapes") == 2
        series = sum(len(f.samples) for f in second.values())
        assert series <= 500, series
        # The server under test has many databases (one per test): at most 10 are shown.
        assert (
            len({s.labels["datname"] for s in second["pg_stat_database_xact_commit"].samples}) <= 10
        )


def test_per_query_series_are_top_n_plus_other(db_url: str, conn: psycopg.Connection) -> None:
    preloaded = conn.execute(
        "select 'pg_stat_statements' = any(string_to_array(current_setting('shared_preload_libraries'), ', '))"
    ).fetchone()[0]
    conn.execute("create extension if not exists pg_stat_statements")
    for i in range(8):
        conn.execute(f"select {i} as q{i}")
    warden = Warden(db_url)
    settings = ServeSection(top_queries=3, top_tables=2)
    with serving(create_app(warden, settings=settings, close_warden=True)) as url:
        families = scrape(url)
    if not preloaded:  # PostgreSQL without the library: no per-query series, no error
        assert "pg_stat_statements_calls" not in families
        assert value(families, "pg_exporter_last_scrape_error") == 0
        return
    ids = {s.labels["queryid"] for s in families["pg_stat_statements_calls"].samples}
    assert "other" in ids and len(ids) == 4
    assert len(families["pg_stat_user_tables_n_live_tup"].samples) <= 2


def test_metrics_can_require_the_token(db_url: str) -> None:
    warden = Warden(db_url)
    settings = ServeSection(metrics_public=False)
    with serving(create_app(warden, settings=settings, token="t0k", close_warden=True)) as url:
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert value(scrape(url, headers={"authorization": "Bearer t0k"}), "pg_up") == 1


def test_findings_and_feature_state_come_from_the_cached_checks(
    db_url: str, conn: psycopg.Connection
) -> None:
    conn.execute("create table public.no_key (v int)")  # a table without a primary key
    warden = Warden(db_url)
    app = create_app(warden, close_warden=True)
    with serving(app) as url:
        services = app.state.pgwarden
        health = httpx.get(f"{url}/api/health").json()  # waits for the first pass
        assert health["server"]["reachable"] and health["server"]["role"] == "primary"
        assert health["checks"]["state"] in ("ok", "incomplete")
        counts = health["findings"]["counts"]
        families = scrape(url)
        for severity in ("critical", "warning", "info"):
            assert value(families, "pgwarden_findings", severity=severity) == counts[severity]
        by_check = families["pgwarden_findings_by_check"].samples
        assert sum(s.value for s in by_check) == len(health["findings"]["items"])
        planted = [f for f in health["findings"]["items"] if f["check"] == "table.no_primary_key"]
        assert [f["object"] for f in planted] == ["public.no_key"]
        assert value(families, "pgwarden_findings_by_check", check="table.no_primary_key") == 1
        assert value(families, "pgwarden_checks_runs") == services.state.runs >= 1
        assert health["alerts"] == [] and value(families, "pgwarden_alerts_firing") == 0
        assert "pgwarden_checks_age_seconds" in families
        # Database sizes come with the checks (a walk of every file: not per scrape).
        assert value(families, "pg_database_size_bytes", datname=conn.info.dbname) > 0


def test_a_real_prometheus_scrapes_pg_up(db_url: str, tmp_path: Path) -> None:
    binary = require_tool("prometheus")
    warden = Warden(db_url)
    with serving(create_app(warden, close_warden=True)) as url:
        target = url.removeprefix("http://")
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: pgwarden\n    static_configs: [{{targets: ['{target}']}}]\n"
        )
        port = free_port()
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            api = f"http://127.0.0.1:{port}/api/v1"
            result: list[Any] = []
            deadline = time.monotonic() + 60
            while not result and time.monotonic() < deadline:
                time.sleep(0.25)
                # Until it is ready Prometheus refuses connections, then answers 503 in text.
                with contextlib.suppress(httpx.TransportError, ValueError, KeyError):
                    answer = httpx.get(f"{api}/query", params={"query": "pg_up"}).json()
                    result = answer["data"]["result"]
            assert result, "Prometheus never stored pg_up"
            assert result[0]["metric"]["job"] == "pgwarden"
            assert result[0]["value"][1] == "1"
            health = httpx.get(f"{api}/targets").json()["data"]["activeTargets"][0]
            assert health["health"] == "up", health.get("lastError")
        finally:
            process.terminate()
            process.wait(timeout=30)


FEATURES = """
[tables."public.events"]
partition = { column = "at", interval = "1 month", premake = 2 }

[tables."public.logs"]
archive = { after = "2 years", column = "at" }
"""


def test_feature_state_partitions_ahead_default_rows_archive_backlog(
    db_url: str, conn: psycopg.Connection
) -> None:
    conn.execute(
        "create table public.events (id bigint, at timestamptz not null, primary key (id, at)) "
        "partition by range (at)"
    )
    conn.execute("create table public.logs (id bigint primary key, at timestamptz not null)")
    conn.execute(
        "insert into public.logs select g, now() - interval '3 years' - g * interval '1 day' "
        "from generate_series(1, 10) g union all select g, now() from generate_series(11, 15) g"
    )
    warden = Warden(db_url, spec=parse_spec(FEATURES))
    warden.apply()
    conn.execute("insert into public.events select g, now() from generate_series(1, 5) g")
    settings = ServeSection(checks_every="200ms")

    def state(url: str, until: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        health: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            health = httpx.get(f"{url}/api/health").json()
            if health["features"] and until(health["features"]):
                return health["features"], scrape(url)
            time.sleep(0.1)
        raise AssertionError(health)

    with serving(create_app(warden, settings=settings, close_warden=True)) as url:
        features, families = state(url, lambda f: f["archive"] is not None)
        events = next(p for p in features["partitions"] if p["table"] == "public.events")
        assert events == {"table": "public.events", "declared": True, "partitions": 1,
                          "ahead": 0, "default_rows": 5}  # fmt: skip
        assert features["archive"] == [{"table": "public.logs", "backlog_rows": 10}]
        assert value(families, "pgwarden_default_partition_rows", table="public.events") == 5
        assert value(families, "pgwarden_partitions_ahead", table="public.events") == 0
        assert value(families, "pgwarden_archive_backlog_rows", table="public.logs") == 10
        warden.maintain()  # premake (rows move out of the default partition) and archive
        features, families = state(
            url,
            lambda f: (
                any(p["ahead"] for p in f["partitions"])
                # None while maintain holds the maintenance lock (the backlog is unknown then)
                and f["archive"] is not None
                and not f["archive"][0]["backlog_rows"]
            ),
        )
        assert value(families, "pgwarden_partitions_ahead", table="public.events") == 2
        assert value(families, "pgwarden_default_partition_rows", table="public.events") == 0
        assert value(families, "pgwarden_archive_backlog_rows", table="public.logs") == 0
        tables = {t["table"]: t for t in httpx.get(f"{url}/api/tables").json()["tables"]}
        assert tables["public.events"]["partitioned"] is True
        assert tables["public.events"]["partitions_ahead"] == 2
        assert tables["public.events"]["features"] == ["partition"]


def test_backup_health_in_the_api_and_metrics(db_url: str, tmp_path: Path) -> None:
    # [backup] declared, nothing taken yet: its health says so, in the API and the metrics
    # (and nothing runs a backup: serve only reads).
    spec = parse_spec(f'[backup]\nrepository = "{tmp_path / "repo"}"\n')
    warden = Warden(db_url, spec=spec)
    settings = ServeSection(checks_every="200ms")
    with serving(create_app(warden, settings=settings, close_warden=True)) as url:
        deadline = time.monotonic() + 60
        health: dict[str, Any] = {}
        while time.monotonic() < deadline and not health.get("backups"):
            health = httpx.get(f"{url}/api/health").json()
            time.sleep(0.1)
        backups = health["backups"]
        assert backups["backups"] == 0 and "no backup has been taken" in backups["problems"]
        assert value(scrape(url), "pgwarden_backups") == 0
        assert any(f["check"] == "pgwarden.backup" for f in health["findings"]["items"])
    assert not (tmp_path / "repo").exists()


def test_view_staleness_in_the_api_and_metrics(db_url: str, conn: psycopg.Connection) -> None:
    # A declared view with a max_staleness: stale until refreshed (the build by apply is not
    # a logged refresh), then fresh, with its last refresh and age in /metrics.
    conn.execute("create table public.sales (id int primary key, shop int not null)")
    conn.execute("insert into public.sales select g, g % 3 from generate_series(1, 30) g")
    spec = parse_spec(
        '[materialized_views."public.per_shop"]\n'
        'query = "select shop, count(*) as n from sales group by shop"\n'
        'unique_key = ["shop"]\nrefresh = "1h"\nmax_staleness = "2h"\n'
    )
    warden = Warden(db_url, spec=spec)
    warden.apply()
    settings = ServeSection(checks_every="200ms")

    def views(url: str, until: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        health: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            health = httpx.get(f"{url}/api/health").json()
            found = (health["features"] or {}).get("views")
            if found and until(found[0]):
                return found, scrape(url)
            time.sleep(0.1)
        raise AssertionError(health)

    with serving(create_app(warden, settings=settings, close_warden=True)) as url:
        [never], families = views(url, lambda v: True)
        assert (never["view"], never["last_refresh"], never["stale"]) == (
            "public.per_shop",
            None,
            True,
        )
        assert value(families, "pgwarden_view_stale", view="public.per_shop") == 1
        assert (
            value(families, "pgwarden_view_max_staleness_seconds", view="public.per_shop") == 7200
        )
        assert not families["pgwarden_view_age_seconds"].samples  # absent: never refreshed

        before = time.time()
        done = warden.materialized_views.refresh("public.per_shop")
        assert (done.rows, done.concurrently) == (3, True)
        [fresh], families = views(url, lambda v: v["last_refresh"] is not None)
        assert fresh["stale"] is False
        assert value(families, "pgwarden_view_stale", view="public.per_shop") == 0
        at = value(families, "pgwarden_view_last_refresh_timestamp_seconds", view="public.per_shop")
        assert at >= before - 1
        assert 0 <= value(families, "pgwarden_view_age_seconds", view="public.per_shop") < 7200
