"""``pgwarden partitions``, pg_partman tables left alone, and clear errors for bad input."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from pgwarden import Warden
from pgwarden.cli import app
from pgwarden.errors import FeatureNotApplicable, SpecError
from pgwarden.spec import parse_spec

EVENTS = "create table events (at timestamptz not null, v int) partition by range (at)"


def test_listing_json_and_text(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], project: Path
) -> None:
    conn.execute(EVENTS)
    spec = '[tables."public.events"]\npartition = { column = "at", interval = "1 month" }\n'
    (project / "pgwarden.toml").write_text(spec)
    warden = make_warden(spec)
    warden.apply()
    warden.maintain(now=dt.datetime(2026, 1, 10, tzinfo=dt.UTC))
    # A hand-made partition leaves a hole between it and pgwarden's.
    conn.execute(
        "create table events_old partition of events for values from ('2025-06-01') to ('2025-07-01')"
    )
    conn.execute("insert into events values ('2025-09-09', 1), ('2026-01-02', 2)")
    result = CliRunner().invoke(app, ["partitions", "--json"])
    assert result.exit_code == 0, result.output
    (table,) = json.loads(result.stdout)
    assert table["table"] == "public.events" and table["declared"] is True
    assert table["default_rows"] == 1
    assert [p["name"] for p in table["partitions"]][:2] == ["public.events__default",
                                                            "public.events__p202601"]  # fmt: skip
    assert table["gaps"] == [["2025-07-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"]]
    text = CliRunner().invoke(app, ["partitions", "list", "public.events"])
    assert text.exit_code == 0, text.output
    assert "1 rows in the default partition" in text.output and "gap" in text.output
    status = CliRunner().invoke(app, ["status"])
    assert "1 rows in the default partition" in status.output


def test_pg_partman_tables_are_left_alone(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(EVENTS)
    conn.execute("create schema partman")
    conn.execute("create table partman.part_config (parent_table text primary key)")
    conn.execute("insert into partman.part_config values ('public.events')")
    report = make_warden().partitions.report("public.events")[0]
    assert report.partman == "partman" and "pg_partman" in (report.message or "")
    warden = make_warden(
        '[tables."public.events"]\npartition = { column = "at", interval = "1 day" }\n'
    )
    with pytest.raises(FeatureNotApplicable, match="managed by pg_partman"):
        warden.plan()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ('{ column = "at" }', "either interval"),
        ('{ column = "at", interval = "1 fortnight" }', "not a partition interval"),
        ('{ column = "at", interval = "1 day", retention_mode = "shred" }', "retention_mode"),
        ('{ column = "at", values = ["a"], retention = "1 day" }', "range partitions"),
        ('{ column = "at", interval = "1 day", premake = -1 }', "premake"),
    ],
)
def test_bad_options_name_file_table_key(options: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as caught:
        parse_spec(f'[tables."public.events"]\npartition = {options}\n', file="pgwarden.toml")
    assert "pgwarden.toml:2" in str(caught.value) and "public.events" in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ('{ column = "when", interval = "1 day" }', "no column 'when'"),
        ('{ column = "v", interval = "1 day" }', "needs a date or timestamp column"),
        ('{ column = "at", interval = 10 }', "needs an integer column"),
        ('{ column = "v", interval = 10 }', r"partitioned by RANGE \(at\)"),
        ('{ column = "at", values = ["x"] }', r"partitioned by RANGE \(at\)"),
        (
            '{ column = "at", interval = "1 day", retention = "1 day", retention_mode = "archive" }',
            "needs archive declared on the table",
        ),
    ],
)
def test_declarations_that_cannot_apply_change_nothing(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], options: str, message: str
) -> None:
    conn.execute(EVENTS)
    warden = make_warden(f'[tables."public.events"]\npartition = {options}\n')
    with pytest.raises(FeatureNotApplicable, match=message) as caught:
        warden.apply()
    assert "public.events" in str(caught.value) and "partition" in str(caught.value)
    assert conn.execute("select to_regnamespace('warden') is null").fetchone() == (True,)
    assert conn.execute(
        "select count(*) from pg_inherits where inhparent = 'events'::regclass"
    ).fetchone() == (0,)


def test_plain_table_plan_explains_conversion(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table plain (id int primary key, at timestamptz not null)")
    warden = make_warden(
        '[tables."public.plain"]\npartition = { column = "at", interval = "1 day" }\n'
    )
    with pytest.raises(FeatureNotApplicable, match=r"pgwarden partitions convert public\.plain"):
        warden.plan()


def test_cli_convert_dry_run_and_refusals(conn: psycopg.Connection[Any], project: Path) -> None:
    conn.execute("create table plain (id int primary key, at timestamptz not null)")
    (project / "pgwarden.toml").write_text(
        '[tables."public.plain"]\npartition = { column = "at", interval = "1 day" }\n'
    )
    # The primary key lacks the partition column: refused before anything changes, with
    # --dry-run as without.
    for extra in (["--dry-run"], []):
        refused = CliRunner().invoke(app, ["partitions", "convert", "public.plain", *extra])
        assert refused.exit_code == 1
        assert "include the partition key" in refused.output
    assert conn.execute("select to_regclass('plain__pgw_new')").fetchone() == (None,)
    conn.execute("alter table plain drop constraint plain_pkey, add primary key (id, at)")
    conn.execute(
        "insert into plain select g, now() - g * interval '1 day' from generate_series(1, 9) g"
    )
    dry = CliRunner().invoke(app, ["partitions", "convert", "public.plain", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "copy the rows in key order" in dry.output
    assert conn.execute("select relkind from pg_class where relname = 'plain'").fetchone() == ("r",)
    done = CliRunner().invoke(app, ["partitions", "convert", "public.plain", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["rows"] == 9
    again = CliRunner().invoke(app, ["partitions", "convert", "public.plain"])
    assert "partitioned already" in again.output
    once = CliRunner().invoke(app, ["worker", "--once"])
    assert once.exit_code == 0, once.output
    assert conn.execute("select count(*) from warden.maintenance_runs where ok").fetchone() == (2,)
