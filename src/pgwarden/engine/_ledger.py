"""The ledger of owned objects in the ``warden`` schema, and its schema version."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pgwarden._names import QualifiedName
from pgwarden.engine._objects import DesiredObject, ObjectRef
from pgwarden.engine._streams import ENGINE, versions


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The engine's own schema version (its ledger); 0 when the ``warden`` schema does not
    exist. A feature's state has a version stream of its own: :func:`stream_version`."""
    return stream_version(conn, ENGINE)


def stream_version(conn: psycopg.Connection[Any], stream: str) -> int:
    """The highest migration of ``stream`` applied to this database (0: none)."""
    return versions(conn).get(stream, 0)


@dataclass(frozen=True)
class OwnedObject:
    """A ledger row: an object pgwarden created and what it looked like when it left it."""

    ref: ObjectRef
    feature: str
    table: QualifiedName | None
    """``None``: a database-wide object (see :attr:`DesiredObject.table`)."""
    description: str
    definition_hash: str
    fingerprint: str
    create_sql: str
    drop_sql: str
    destructive: bool


def read_ledger(conn: psycopg.Connection[Any]) -> dict[str, OwnedObject]:
    if schema_version(conn) == 0:
        return {}
    owned: dict[str, OwnedObject] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        for r in cur.execute("select * from warden.owned_objects order by object_key"):
            table = r["table_name"]
            owned[r["object_key"]] = OwnedObject(
                ref=ObjectRef.from_json(r["identity"]),
                feature=r["feature"],
                table=QualifiedName(table["schema"], table["name"]) if table else None,
                description=r["description"],
                definition_hash=r["definition_hash"],
                fingerprint=r["fingerprint"],
                create_sql=r["create_sql"],
                drop_sql=r["drop_sql"],
                destructive=r["destructive"],
            )
    return owned


def record(conn: psycopg.Connection[Any], obj: DesiredObject, fingerprint: str) -> None:
    conn.execute(
        """insert into warden.owned_objects as o (object_key, kind, identity, feature, table_name,
               description, definition_hash, fingerprint, create_sql, drop_sql, destructive)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           on conflict (object_key) do update set
               identity = excluded.identity, feature = excluded.feature,
               table_name = excluded.table_name, description = excluded.description,
               definition_hash = excluded.definition_hash, fingerprint = excluded.fingerprint,
               create_sql = excluded.create_sql, drop_sql = excluded.drop_sql,
               destructive = excluded.destructive, updated_at = now()""",
        (
            obj.ref.key,
            obj.ref.kind,
            json.dumps(obj.ref.to_json()),
            obj.feature,
            # JSON null for a database-wide object.
            json.dumps({"schema": obj.table.schema, "name": obj.table.name} if obj.table else None),
            obj.description,
            obj.definition_hash,
            fingerprint,
            obj.create_sql,
            obj.drop_sql,
            obj.destructive,
        ),
    )


def forget(conn: psycopg.Connection[Any], ref: ObjectRef) -> None:
    conn.execute("delete from warden.owned_objects where object_key = %s", (ref.key,))


def log_apply(
    conn: psycopg.Connection[Any], version: str, fingerprint: str, changes: list[dict[str, Any]]
) -> int:
    row = conn.execute(
        """insert into warden.applies (pgwarden_version, plan_fingerprint, changes)
           values (%s, %s, %s) returning apply_id""",
        (version, fingerprint, json.dumps(changes)),
    ).fetchone()
    assert row is not None
    return int(row[0])


def stored_sql(text: str) -> sql.SQL:
    """SQL read back from the ledger. pgwarden composed it itself when it created the object
    (identifiers quoted), and only the ledger's owner can write that table."""
    return sql.SQL(text)
