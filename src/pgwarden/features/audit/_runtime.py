"""Reading and using the audit trail from Python: history, time travel, diff, revert, feed.

Every function takes an open connection; :class:`pgwarden.Warden` wraps them with sessions.
Table names are ``schema.table`` strings; a key is a value or a tuple of values (one per key
column), passed as text and cast by the database to the key columns' types.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from pgwarden._names import QualifiedName
from pgwarden.errors import AuditError

KeyLike = Any
"""A key value, or a tuple/list of them for a composite key."""


@dataclass(frozen=True)
class Version:
    """One version of a row: what it was from ``valid_from`` until ``valid_to``."""

    version: int
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None
    op: str
    row: dict[str, Any] | None
    """The row's values in this version; None once deleted."""
    changed: list[str] | None
    actor: str | None
    tenant: str | None
    reason: str | None
    request_id: str | None
    txid: int | None
    event_id: int | None


@dataclass(frozen=True)
class Event:
    """One captured change, as the log and the change feed show it."""

    event_id: int
    txid: int
    at: dt.datetime
    table: str
    op: str
    key: Any
    old_key: Any
    old_row: dict[str, Any] | None
    new_row: dict[str, Any] | None
    actor: str | None
    tenant: str | None
    reason: str | None
    request_id: str | None

    @property
    def position(self) -> tuple[int, int]:
        """Where a reader resumes after this event (transaction id, event id)."""
        return (self.txid, self.event_id)

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["at"] = self.at.isoformat()
        data["op"] = {"I": "insert", "U": "update", "D": "delete", "T": "truncate"}[self.op]
        return data


STORE_VERSION = 1
"""The version of audit's stream (``migrations/``) these functions need."""


def require_store(conn: psycopg.Connection[Any]) -> None:
    """Fail clearly when the database's audit store is missing or older than this code."""
    from pgwarden.engine import stream_version

    row = conn.execute(
        "select case when to_regclass('warden.migrations') is not null "
        "then not has_table_privilege('warden.migrations', 'select') end"
    ).fetchone()
    if row and row[0]:
        # An application role ([roles]) may not read pgwarden's ledger: the functions it may
        # run are there, or it gets no grant on them (an error naming the function).
        return
    current = stream_version(conn, "audit")
    if current < STORE_VERSION:
        older = stream_version(conn, "legacy")
        raise AuditError(
            f"this database's warden schema is at version {older}, from before pgwarden kept "
            "one version stream per feature"
            if older
            else "this database has no audit store yet",
            hint="run `pgwarden apply` to upgrade it"
            if older
            else "declare audit for a table in pgwarden.toml and run `pgwarden apply`",
        )


def qualified(table: str) -> str:
    try:
        return QualifiedName.parse(table).regclass_text
    except ValueError as exc:
        raise AuditError(str(exc)) from None


def key_json(conn: psycopg.Connection[Any], table: str, key: KeyLike) -> Jsonb:
    """The key as the capture recorded it (cast to the key columns' types)."""
    require_store(conn)
    parts = list(key) if isinstance(key, tuple | list) else [key]
    text = [p.isoformat() if isinstance(p, dt.date | dt.datetime) else str(p) for p in parts]
    row = _one(conn, "select warden.audit_key(%s, %s::text[])::text", (qualified(table), text))
    return _exact(row[0])


def _exact(text: str) -> Jsonb:
    """jsonb sent as the server wrote it: parsed into Python, a numeric of more digits than
    a float holds (1.500000000000000001) would come back another value, another key."""
    return Jsonb(text, dumps=lambda t: t)


def _one(conn: psycopg.Connection[Any], query: Any, params: Sequence[Any]) -> Any:
    try:
        row = conn.execute(query, params).fetchone()
    except psycopg.Error as exc:
        raise AuditError(exc.diag.message_primary or str(exc), hint=exc.diag.message_hint) from exc
    assert row is not None
    return row


def history(conn: psycopg.Connection[Any], table: str, key: KeyLike) -> list[Version]:
    """Every version of one row, oldest first (version 0: as it was before auditing)."""
    k = key_json(conn, table, key)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("select * from warden.history(%s, %s)", (qualified(table), k)).fetchall()
    return [
        Version(
            version=r["version"],
            valid_from=r["valid_from"],
            valid_to=r["valid_to"],
            op=r["op"],
            row=r["row_data"],
            changed=r["changed"],
            actor=r["actor"],
            tenant=r["tenant"],
            reason=r["reason"],
            request_id=r["request_id"],
            txid=int(r["txid"]) if r["txid"] is not None else None,
            event_id=r["event_id"],
        )
        for r in rows
    ]


def as_of(conn: psycopg.Connection[Any], table: str, at: dt.datetime) -> list[dict[str, Any]]:
    """Every row of ``table`` as it was at ``at`` (a dropped table's rows come back as dicts
    of what was recorded)."""
    require_store(conn)
    name = QualifiedName.parse(table)
    exists = _one(conn, "select to_regclass(%s) is not null", (name.regclass_text,))[0]
    with conn.cursor(row_factory=dict_row) as cur:
        try:
            if exists:
                query = sql.SQL("select * from warden.as_of(null::{}, %s)").format(name.ident)
                return cur.execute(query, (at,)).fetchall()
            rows = cur.execute(
                "select row_data from warden.audit_state_at(warden.audit_table_id(%s), %s) "
                "where present",
                (name.regclass_text, at),
            ).fetchall()
        except psycopg.Error as exc:
            raise AuditError(exc.diag.message_primary or str(exc)) from exc
    return [r["row_data"] for r in rows]


def diff(
    conn: psycopg.Connection[Any], table: str, key: KeyLike, old: int, new: int | None = None
) -> dict[str, tuple[Any, Any]]:
    """Columns that differ between two versions (``new`` defaults to the latest):
    ``{column: (value in old, value in new)}``."""
    versions = {v.version: v for v in history(conn, table, key)}
    if not versions:
        raise AuditError(f"{table} {key!r} has no recorded history")
    newest = max(versions)
    a, b = versions.get(old), versions.get(newest if new is None else new)
    if a is None or b is None:
        raise AuditError(f"{table} {key!r} has versions {min(versions)} to {newest}")
    left, right = a.row or {}, b.row or {}
    return {
        c: (left.get(c), right.get(c))
        for c in sorted(set(left) | set(right))
        if left.get(c) != right.get(c)
    }


def revert(
    conn: psycopg.Connection[Any], table: str, key: KeyLike, to: int | dt.datetime
) -> dict[str, Any] | None:
    """Put one row back as it was in version ``to`` (or at time ``to``): update it, delete
    it, or bring it back. Runs in the caller's transaction; returns the restored values."""
    k = key_json(conn, table, key)
    # The image stays jsonb text from the store to put_row (see _exact).
    if isinstance(to, int):
        versions = {v.version: v for v in history(conn, table, key)}
        if to not in versions:
            raise AuditError(
                f"{table} {key!r} has no version {to}"
                + (f" (versions {min(versions)} to {max(versions)})" if versions else "")
            )
        # The version's own column names -> the current ones.
        present, image = _one(
            conn,
            "select h.row_data is not null, warden.audit_rename_image(h.row_data, "
            "warden.audit_moves(warden.audit_table_id(%s), coalesce(h.valid_from, h.valid_to)))"
            "::text from warden.history(%s, %s) h where h.version = %s",
            (qualified(table), qualified(table), k, to),
        )
    else:
        found = conn.execute(
            "select present, case when present then row_data end::text "
            "from warden.audit_state_at(warden.audit_table_id(%s), %s, %s)",
            (qualified(table), to, k),
        ).fetchone()
        if found is None:  # never changed since auditing began: as it is now
            found = _one(
                conn, "select warden.audit_current_row(%s, %s)::text", (qualified(table), k)
            )
            found = (found[0] is not None, found[0])
        present, image = bool(found[0]), found[1]
    try:
        conn.execute(
            "select warden.put_row(%s::regclass, %s, %s, %s)",
            (qualified(table), k, present, _exact(image) if image is not None else None),
        )
    except psycopg.Error as exc:
        raise AuditError(
            f"cannot revert {table} {key!r}: {exc.diag.message_primary or exc}",
            hint=exc.diag.message_hint,
        ) from exc
    return json.loads(image) if image is not None else None


def revert_transaction(conn: psycopg.Connection[Any], txid: int) -> list[tuple[str, Any, str]]:
    """Undo everything transaction ``txid`` changed, in the caller's transaction; refuses
    when a later transaction changed the same rows."""
    require_store(conn)
    try:
        rows = conn.execute(
            "select table_name, row_key, action from warden.revert_transaction(%s::text::xid8)",
            (str(txid),),
        ).fetchall()
    except psycopg.Error as exc:
        raise AuditError(exc.diag.message_primary or str(exc), hint=exc.diag.message_hint) from exc
    return [(r[0], r[1], r[2]) for r in rows]


def _event(r: dict[str, Any]) -> Event:
    return Event(
        event_id=r["event_id"],
        txid=r["txid"],
        at=r["at"],
        table=r["table_name"],
        op=r["op"],
        key=r["row_key"],
        old_key=r["old_key"],
        old_row=r["old_row"],
        new_row=r["new_row"],
        actor=r["actor"],
        tenant=r["tenant"],
        reason=r["reason"],
        request_id=r["request_id"],
    )


FOLLOWERS_LOCK = 5898209076311306152
"""Advisory lock (bigint: the first 64 bits of md5('pgwarden_changes')) each reader
following the change feed holds, shared: trigger capture sends NOTIFY pgwarden_changes only
while one does (each notifying commit waits for the one before it to be flushed)."""


def changes(
    conn: psycopg.Connection[Any],
    after: tuple[int, int] = (0, 0),
    *,
    limit: int = 1000,
    table: str | None = None,
) -> list[Event]:
    """The next events of the change feed after position ``after`` (see :attr:`Event.position`)."""
    require_store(conn)
    table_id = None
    if table is not None:
        table_id = _one(conn, "select warden.audit_table_id(%s)", (qualified(table),))[0]
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "select event_id, txid::text::bigint as txid, at, table_name, op, row_key, old_key,"
            " old_row, new_row, actor, tenant, reason, request_id"
            " from warden.changes_after(%s::text::xid8, %s::bigint, %s::int, %s::int)",
            (str(after[0]), after[1], limit, table_id),
        ).fetchall()
    return [_event(r) for r in rows]


def position_of(conn: psycopg.Connection[Any], event_id: int) -> tuple[int, int]:
    """The feed position just after event ``event_id`` (for ``--from``)."""
    row = conn.execute(
        "select e.txid::text::bigint from warden.audit_events_all e where e.event_id = %s",
        (event_id,),
    ).fetchone()
    if row is None:
        raise AuditError(f"no audit event {event_id}")
    return (int(row[0]), event_id)


def log(
    conn: psycopg.Connection[Any],
    *,
    table: str | None = None,
    actor: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 100,
) -> list[Event]:
    """Recent events, newest first, filtered by table, actor and time."""
    require_store(conn)
    where = [sql.SQL("true")]
    params: list[Any] = []
    if table is not None:
        # A sub-select: looked up once, not once per event scanned.
        where.append(sql.SQL("e.table_id = (select warden.audit_table_id(%s))"))
        params.append(qualified(table))
    if actor is not None:
        where.append(sql.SQL("c.actor = %s"))
        params.append(actor)
    if since is not None:
        where.append(sql.SQL("e.at >= %s"))
        params.append(since)
    select = sql.SQL(
        "select e.event_id, e.txid::text::bigint as txid, e.at, "
        "t.schema_name || '.' || t.table_name as table_name, e.op, e.row_key, e.old_key, "
        "e.old_row, e.new_row, c.actor, c.tenant, c.reason, c.request_id "
        "from {} e left join warden.audit_contexts c "
        "on c.txid = e.txid and c.context_seq = e.context_seq "
        "join warden.audit_tables t using (table_id) where {} "
    )
    conditions = sql.SQL(" and ").join(where)
    # Newest first: the archive only matters when the hot store has fewer than `limit`
    # matches, or for archived events newer than the oldest of them (BRIN on event_id finds
    # none in an instant), so the archive is not scanned for a recent log.
    query = sql.SQL(
        "with hot as ({hot} order by e.event_id desc limit {n}) select * from hot union all "
        "({archived} and e.event_id > (select case when count(*) = {n} then min(event_id) "
        "else 0 end from hot) order by e.event_id desc limit {n}) "
        "order by event_id desc limit {n}"
    ).format(
        hot=select.format(sql.SQL("warden.audit_events"), conditions),
        archived=select.format(sql.SQL("warden.audit_events_archive"), conditions),
        n=sql.Literal(limit),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        try:
            rows = cur.execute(query, params + params).fetchall()
        except psycopg.Error as exc:
            raise AuditError(exc.diag.message_primary or str(exc)) from exc
    return [_event(r) for r in rows]


def prunable(conn: psycopg.Connection[Any], now: dt.datetime | None = None) -> int:
    """How many events :func:`prune` would delete at ``now`` (default: the server's)."""
    require_store(conn)
    row = conn.execute(
        "select count(*) from warden.audit_events_all e join warden.audit_tables t "
        "on t.table_id = e.table_id where t.retention is not null "
        "and e.at < coalesce(%s, now()) - t.retention",
        (now,),
    ).fetchone()
    return int(row[0]) if row else 0


def prune(
    conn: psycopg.Connection[Any], *, batch: int = 10_000, now: dt.datetime | None = None
) -> int:
    """Delete events older than their table's ``retention`` at ``now`` (default: the
    server's), one batch per transaction (``conn`` in autocommit), until none is left;
    returns how many were deleted."""
    require_store(conn)
    total = 0
    while True:
        row = conn.execute(
            "select warden.audit_prune(%s, coalesce(%s, now()))", (batch, now)
        ).fetchone()
        removed = int(row[0]) if row else 0
        total += removed
        if removed < batch:
            return total
