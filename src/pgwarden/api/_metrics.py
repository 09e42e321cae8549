"""``/metrics``: Prometheus exposition through ``prometheus-client``.

Core statistics keep postgres_exporter's names (``pg_up``, ``pg_stat_database_xact_commit``,
``pg_locks_count``, ``pg_stat_activity_max_tx_duration``, ``pg_replication_lag_seconds``...) so
its dashboards and alert rules work unchanged. Its cumulative statistics are exposed untyped:
``prometheus-client`` would append ``_total`` to a counter's name and break that
compatibility; ``rate()`` works on them all the same. pgwarden's own series are ``pgwarden_*``.

Every scrape reads the server afresh: when it cannot be reached the scrape has ``pg_up 0`` and
``pg_exporter_last_scrape_error 1`` and no other ``pg_*`` or database-derived ``pgwarden_*``
series (absent, never stale: postgres_exporter#1120, #1387). Series are bounded: at most
``_DATABASES`` databases, ``top_tables`` tables and ``top_queries`` statements (+ ``other``),
about 300 series in all by default.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import psycopg
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    UnknownMetricFamily,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.process_collector import ProcessCollector

from pgwarden.api._link import Link, Unreachable
from pgwarden.api._replicas import replica_metrics
from pgwarden.api._sampler import Sampler
from pgwarden.api._scrape import DATABASE_COLUMNS, TABLE_COLUMNS, Scrape, read_scrape
from pgwarden.api._state import HealthState
from pgwarden.db import Replicas

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_GAUGES = {"numbackends", "n_live_tup", "n_dead_tup", "size_bytes"}
_TIMES = {"last_autovacuum", "last_autoanalyze"}


class Metrics:
    """Renders ``/metrics``; keeps pgwarden's own counters (scrapes, errors)."""

    def __init__(
        self,
        url: str,
        state: HealthState,
        sampler: Sampler,
        *,
        top_tables: int = 20,
        top_queries: int = 10,
        replicas: Replicas | None = None,
    ):
        self.link = Link(url, "metrics")
        self.replicas = replicas
        self.state = state
        self.sampler = sampler
        self.top_tables = top_tables
        self.top_queries = top_queries
        self.scrapes = 0
        self.scrape_errors = 0
        self._process = ProcessCollector(registry=None)

    async def render(self) -> bytes:
        started = time.perf_counter()
        self.scrapes += 1
        scrape: Scrape | None = None
        up = True
        try:
            scrape = await self.link.run(
                lambda conn: read_scrape(conn, self.top_tables, self.top_queries)
            )
        except Unreachable:  # why is in /readyz and /api/health, never in a label
            up = False
        except psycopg.Error:  # reachable, but a core view failed (a privilege): an error
            pass
        failed = scrape is None
        self.scrape_errors += failed
        families: list[Metric] = [
            _gauge("pg_up", "Whether the server could be reached and queried.", 1 if up else 0),
            _gauge(
                "pg_exporter_last_scrape_error",
                "Whether the last scrape had an error (1) or not (0).",
                1 if failed else 0,
            ),
        ]
        if scrape is not None:
            families += _core(scrape)
            families += self._pgwarden_state()
        families += await replica_metrics(self.replicas)
        families += self._own(time.perf_counter() - started)
        return generate_latest(_Families(families, self._process))

    def _pgwarden_state(self) -> list[Metric]:
        snapshot = self.state.snapshot
        if snapshot is None:
            return []
        # Database sizes walk every file of every database (70 ms at 2,000 tables, the bulk of
        # postgres_exporter's 1 s scrape): read with the checks, published only while pg_up.
        size = GaugeMetricFamily(
            "pg_database_size_bytes",
            "Size of the database (read every checks_every).",
            labels=["datname"],
        )
        for datname, size_bytes in snapshot.database_sizes.items():
            size.add_metric([datname], size_bytes)
        out: list[Metric] = [
            size,
            _gauge(
                "pgwarden_checks_age_seconds",
                "Seconds since doctor's findings and the feature state were read.",
                max(time.time() - snapshot.taken_at, 0.0),
            ),
        ]
        if snapshot.findings is not None:
            by_severity = GaugeMetricFamily(
                "pgwarden_findings", "Findings of doctor by severity.", labels=["severity"]
            )
            for severity, count in snapshot.counts().items():
                by_severity.add_metric([severity], count)
            by_check = GaugeMetricFamily(
                "pgwarden_findings_by_check",
                "Findings of doctor by check and severity.",
                labels=["check", "severity"],
            )
            counted: dict[tuple[str, str], int] = {}
            for finding in snapshot.findings:
                key = (str(finding["check"]), str(finding["severity"]))
                counted[key] = counted.get(key, 0) + 1
            for (check, severity), count in sorted(counted.items()):
                by_check.add_metric([check, severity], count)
            out += [by_severity, by_check]
        if snapshot.alerts is not None:
            firing = sum(1 for a in snapshot.alerts if a["status"] == "firing")
            out.append(_gauge("pgwarden_alerts_firing", "Alerts firing (monitor-alerts).", firing))
        features = snapshot.features
        audit = features.get("audit")
        if audit:
            out.append(
                _gauge(
                    "pgwarden_audit_ingest_lag_bytes",
                    "WAL not yet ingested into the audit store (capture = wal).",
                    audit["ingest_lag_bytes"],
                )
            )
        parts = features.get("partitions") or []
        ahead = GaugeMetricFamily(
            "pgwarden_partitions_ahead",
            "Range partitions made ahead of now, per partitioned table.",
            labels=["table"],
        )
        default = GaugeMetricFamily(
            "pgwarden_default_partition_rows",
            "Rows in the default partition, per partitioned table.",
            labels=["table"],
        )
        for part in parts:
            if part["ahead"] is not None:
                ahead.add_metric([part["table"]], part["ahead"])
            default.add_metric([part["table"]], part["default_rows"])
        out += [ahead, default]
        if features.get("archive") is not None:
            backlog = GaugeMetricFamily(
                "pgwarden_archive_backlog_rows",
                "Rows due for archiving, per table.",
                labels=["table"],
            )
            for entry in features["archive"]:
                backlog.add_metric([entry["table"]], entry["backlog_rows"])
            out.append(backlog)
        if features.get("views") is not None:
            out += _views(features["views"], time.time())
        backups = features.get("backups")
        if backups is not None:
            out.append(_gauge("pgwarden_backups", "Backups in the catalog.", backups["backups"]))
            for name, help_text in (
                ("newest_backup_age", "Age of the newest backup."),
                ("last_verified_age", "Age of the last restore drill."),
            ):
                if backups[name] is not None:
                    out.append(_gauge(f"pgwarden_backup_{name}_seconds", help_text, backups[name]))
            if backups["wal_lag_bytes"] is not None:
                out.append(
                    _gauge(
                        "pgwarden_backup_wal_lag_bytes",
                        "WAL written but not yet in the backup repository (the live RPO).",
                        backups["wal_lag_bytes"],
                    )
                )
        return out

    def _own(self, seconds: float) -> list[Metric]:
        return [
            _gauge(
                "pgwarden_scrape_duration_seconds",
                "Time this scrape spent reading the server.",
                seconds,
            ),
            _counter("pgwarden_scrapes", "Scrapes of /metrics served.", self.scrapes),
            _counter(
                "pgwarden_scrape_errors",
                "Scrapes that could not read everything (unreachable server included).",
                self.scrape_errors,
            ),
            _gauge("pgwarden_live_viewers", "Clients connected to WS /live.", self.sampler.viewers),
            _counter(
                "pgwarden_live_samples",
                "Samples the shared /live sampler took.",
                self.sampler.samples_taken,
            ),
            _counter(
                "pgwarden_live_sample_errors",
                "Samples that failed (server unreachable).",
                self.sampler.errors,
            ),
            _counter(
                "pgwarden_checks_runs", "Passes of doctor and feature state.", self.state.runs
            ),
            _counter(
                "pgwarden_checks_failures",
                "Passes that could not read everything.",
                self.state.failures,
            ),
        ]


def _views(views: list[dict[str, Any]], now: float) -> list[Metric]:
    """Declared materialized views: when each was last refreshed and whether it is stale,
    its age taken at this scrape (the refresh log is read with the checks, every
    ``checks_every``; a refresh since then shows at the next pass)."""
    last = GaugeMetricFamily(
        "pgwarden_view_last_refresh_timestamp_seconds",
        "Start of the view's last successful refresh (Unix time); absent: never refreshed.",
        labels=["view"],
    )
    age = GaugeMetricFamily(
        "pgwarden_view_age_seconds",
        "Seconds since the view's last successful refresh started.",
        labels=["view"],
    )
    limit = GaugeMetricFamily(
        "pgwarden_view_max_staleness_seconds", "The view's declared max_staleness.", labels=["view"]
    )
    stale = GaugeMetricFamily(
        "pgwarden_view_stale",
        "1 when the view is older than its max_staleness (or never refreshed and has one).",
        labels=["view"],
    )
    for view in views:
        name, at, most = view["view"], view["last_refresh_unix"], view["max_staleness_seconds"]
        seconds: float | None = None
        if at is not None:
            seconds = max(now - at, 0.0)
            last.add_metric([name], at)
            age.add_metric([name], seconds)
        if most is not None:
            limit.add_metric([name], most)
        late = most is not None and (seconds is None or seconds > most)
        stale.add_metric([name], 1 if late else 0)
    return [last, age, limit, stale]


def _core(scrape: Scrape) -> list[Metric]:
    server = scrape.server
    static = GaugeMetricFamily(
        "pg_static", "Version of the server.", labels=["short_version", "version"]
    )
    static.add_metric([server["version"].split()[0], server["version"]], 1)
    out: list[Metric] = [
        static,
        _gauge(
            "pg_postmaster_start_time_seconds",
            "Time the server started (Unix seconds).",
            server["started"],
        ),
        _gauge("pg_settings_max_connections", "max_connections.", server["max_connections"]),
        _gauge(
            "pg_replication_is_replica",
            "Whether the server is a standby.",
            1 if server["replica"] else 0,
        ),
        _gauge(
            "pg_replication_lag_seconds",
            "Replay lag of this standby; 0 when it has replayed all WAL it received (so an "
            "idle primary does not look like lag); 0 on a primary.",
            server["lag_seconds"] or 0.0,
        ),
    ]
    labels = ["datid", "datname"]
    for column in DATABASE_COLUMNS:
        family = _family(
            f"pg_stat_database_{column}", f"pg_stat_database.{column}", labels,
            gauge=column in _GAUGES,
        )  # fmt: skip
        for row in scrape.databases:
            if row[column] is not None:
                family.add_metric([row["datid"], row["datname"]], float(row[column]))
        out.append(family)
    count = GaugeMetricFamily(
        "pg_stat_activity_count", "Client connections by state.", labels=["datname", "state"]
    )
    longest = GaugeMetricFamily(
        "pg_stat_activity_max_tx_duration",
        "Longest open transaction by state (seconds).",
        labels=["datname", "state"],
    )
    for row in scrape.activity:
        count.add_metric([row["datname"], row["state"]], row["n"])
        longest.add_metric([row["datname"], row["state"]], row["max_tx"])
    locks = GaugeMetricFamily("pg_locks_count", "Locks by mode.", labels=["datname", "mode"])
    for row in scrape.locks:
        locks.add_metric([row["datname"], row["mode"]], row["n"])
    standby = GaugeMetricFamily(
        "pg_stat_replication_pg_wal_lsn_diff",
        "Bytes each standby has yet to replay.",
        labels=["application_name", "client_addr", "state"],
    )
    for row in scrape.standbys:
        if row["lag_bytes"] is not None:
            standby.add_metric(
                [row["application_name"], row["client_addr"], row["state"]], row["lag_bytes"]
            )
    out += [count, longest, locks, standby]
    table_labels = ["datname", "schemaname", "relname"]
    for column in TABLE_COLUMNS:
        family = _family(
            f"pg_stat_user_tables_{column}",
            f"pg_stat_user_tables.{column} of the largest tables",
            table_labels,
            gauge=column in _GAUGES or column in _TIMES,
        )
        for row in scrape.tables:
            if row[column] is not None:
                family.add_metric(
                    [server["datname"], row["schemaname"], row["relname"]], float(row[column])
                )
        out.append(family)
    if scrape.statements is not None:
        out += _statements(server["datname"], scrape.statements)
    return out


def _statements(datname: str, rows: list[dict[str, Any]]) -> list[Metric]:
    names = {
        "calls": "Calls of the statement (top N by total time, then 'other').",
        "seconds": "Total execution time of the statement in seconds.",
        "rows": "Rows the statement returned or affected.",
    }
    out: list[Metric] = []
    for column, doc in names.items():
        family = CounterMetricFamily(
            f"pg_stat_statements_{column}", doc, labels=["user", "datname", "queryid"]
        )
        for row in rows:
            family.add_metric([row["user"], datname, row["queryid"]], row[column])
        out.append(family)
    return out


def _family(
    name: str, doc: str, labels: list[str], *, gauge: bool
) -> GaugeMetricFamily | UnknownMetricFamily:
    if gauge:
        return GaugeMetricFamily(name, doc, labels=labels)
    return UnknownMetricFamily(name, doc, labels=labels)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


class _Families:
    """What ``generate_latest`` collects from: this scrape's families and the process's."""

    def __init__(self, families: Iterable[Metric], process: ProcessCollector):
        self.families = families
        self.process = process

    def collect(self) -> Iterator[Metric]:
        yield from self.families
        yield from self.process.collect()
