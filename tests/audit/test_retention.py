"""Retention: events older than a table's retention go, in batches; the rest stays usable."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import psycopg
from typer.testing import CliRunner

from pgwarden import Warden
from pgwarden.cli import app


def test_prune_deletes_only_events_past_retention(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    conn.execute("create table kept (id int primary key, v int)")
    conn.execute("create table pruned (id int primary key, v int)")
    warden = make_warden(
        '[tables."public.pruned"]\naudit = { retention = "30 days" }\n'
        '[tables."public.kept"]\naudit = true\n'
    )
    warden.apply()
    assert warden.plan().empty
    for table in ("kept", "pruned"):
        conn.execute(f"insert into {table} select g, 0 from generate_series(1, 25) g")
        conn.execute(f"update {table} set v = 1 where id <= 5")
    # Make the inserts look 40 days old (the store's owner may; nobody else can).
    conn.execute("update warden.audit_events set at = at - interval '40 days' where op = 'I'")
    conn.execute(
        "update warden.audit_contexts set tx_started_at = tx_started_at - interval '40 days'"
    )

    assert warden.audit.prune(batch=10) == 25  # three batches: 10, 10, 5
    left = dict(
        conn.execute(
            "select t.table_name, count(*) from warden.audit_events e "
            "join warden.audit_tables t using (table_id) group by 1"
        ).fetchall()
    )
    assert left == {"kept": 30, "pruned": 5}
    # What is left still reads: the row's history starts at its first kept change.
    versions = warden.audit.history("public.pruned", 1)
    assert [v.op for v in versions] == ["existing", "update"]
    assert versions[-1].row == {"id": 1, "v": 1}
    assert warden.audit.prune() == 0

    result = CliRunner().invoke(app, ["--database-url", db_url, "audit", "prune", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"deleted": 0}
