"""Helpers shared by the audit tests: apply a declaration, read the raw event store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pgwarden import Warden


def applied(make_warden: Callable[..., Warden], spec: str, **kw: Any) -> Warden:
    """A Warden for ``spec``, applied; its next plan is empty."""
    warden = make_warden(spec, **kw)
    warden.apply()
    assert warden.plan().empty
    return warden


_MISSING = object()


def old_values(old_row: dict[str, Any] | None, new_row: dict[str, Any] | None) -> dict[str, Any]:
    """What an UPDATE changed, as {column: value before}, whether the store keeps the whole
    old row or only the changed columns."""
    new = new_row or {}
    return {k: v for k, v in (old_row or {}).items() if new.get(k, _MISSING) != v}


def events(conn: psycopg.Connection[Any], table: str | None = None) -> list[dict[str, Any]]:
    """Raw audit events with their context, oldest first (optionally of one table).

    A context is identified by (txid, context_seq); ``has_context`` says whether its row
    exists (who, from where) for the event. ``old_values`` is what an UPDATE changed
    ({column: old value}) or a DELETE's old row."""
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(
            "select e.event_id, e.statement_id, e.op, e.row_key, e.old_key, e.old_row, "
            "e.new_row, t.schema_name || '.' || t.table_name as table_name, "
            "e.txid::text::bigint as txid, e.context_seq, c.actor, c.tenant, c.reason, "
            "c.request_id, c.login_role, c.acting_role, c.client_addr, c.application_name, "
            "c.txid is not null as has_context "
            "from warden.audit_events e "
            "left join warden.audit_contexts c "
            "  on c.txid = e.txid and c.context_seq = e.context_seq "
            "left join warden.audit_tables t using (table_id) "
            "where %(table)s::text is null "
            "   or e.table_id = warden.audit_table_id(%(table)s::text) "
            "order by e.event_id",
            {"table": table},
        ).fetchall()
    for e in found:
        # "old_values": the old values of what an UPDATE changed; a DELETE's whole old row.
        e["old_values"] = old_values(e["old_row"], e["new_row"]) if e["op"] == "U" else e["old_row"]
    return found


def statements_in_c(conn: psycopg.Connection[Any], table: str) -> bool:
    """Whether ``table``'s INSERT trigger is trigger capture's C function (extension
    pgwarden_wal 1.2), whose arguments name the key columns."""
    row = conn.execute(
        "select exists (select from pg_trigger g join pg_proc p on p.oid = g.tgfoid "
        "where g.tgrelid = %s::regclass and g.tgname = 'pgwarden_audit_i' "
        "and p.proname = 'audit_capture')",
        (table,),
    ).fetchone()
    return bool(row and row[0])


def now(conn: psycopg.Connection[Any]) -> dt.datetime:
    """The server's clock (a time strictly between the commits before and after it)."""
    row = conn.execute("select clock_timestamp()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def rows(conn: psycopg.Connection[Any], query: str, *params: Any) -> list[tuple[Any, ...]]:
    return conn.execute(query, params).fetchall()


def needs_logical_wal(conn: psycopg.Connection[Any]) -> None:
    """Skip unless the server can decode its WAL (audit capture = "wal")."""
    import pytest

    level = conn.execute("show wal_level").fetchone()
    if level is None or level[0] != "logical":
        pytest.skip(f'capture = "wal" needs wal_level = logical (server: {level})')
