"""The partition feature alongside others: one apply settles everything."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from pgwarden import Warden


def test_audit_and_partition_settle_in_one_apply(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(
        "create table events (id bigint, at timestamptz not null, v int, primary key (id, at)) "
        "partition by range (at)"
    )
    warden = make_warden(
        '[tables."public.events"]\naudit = true\n'
        'partition = { column = "at", interval = "1 month", premake = 1 }\n'
    )
    plan = warden.plan()
    keys = {str(c.ref) for c in plan.changes if c.ref}
    # The default partition and audit's TRUNCATE trigger on it are planned together.
    assert "partition public.events/events__default" in keys
    assert "trigger public.events__default/pgwarden_audit_t" in keys
    warden.apply()
    assert warden.plan().empty
    conn.execute("insert into events values (1, '1999-01-01', 1)")  # lands in the default
    conn.execute("truncate events__default")
    ops = conn.execute("select op from warden.audit_events order by event_id").fetchall()
    assert ops == [("I",), ("D",)]  # truncate = "rows": each removed row is recorded
