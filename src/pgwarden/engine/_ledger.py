"""The ``warden`` schema: its internal migrations, and the ledger of owned objects."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pgwarden._names import QualifiedName
from pgwarden.engine._objects import DesiredObject, ObjectRef

_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    body: str


def migrations() -> list[Migration]:
    """pgwarden's internal migrations of the ``warden`` schema, in order."""
    found = []
    for entry in resources.files("pgwarden.engine.migrations").iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The highest internal migration applied; 0 when the ``warden`` schema does not exist."""
    row = conn.execute("select to_regclass('warden.migrations') is not null").fetchone()
    if not row or not row[0]:
        return 0
    row = conn.execute("select coalesce(max(version), 0) from warden.migrations").fetchone()
    return int(row[0]) if row else 0


def pending_migrations(conn: psycopg.Connection[Any]) -> list[Migration]:
    current = schema_version(conn)
    return [m for m in migrations() if m.version > current]


def migrate(conn: psycopg.Connection[Any]) -> list[Migration]:
    """Bring the ``warden`` schema up to date; call inside a transaction (under the apply lock)."""
    todo = pending_migrations(conn)
    if not todo:
        return []
    conn.execute("create schema if not exists warden")
    conn.execute(
        """create table if not exists warden.migrations (
               version int primary key, name text not null,
               applied_at timestamptz not null default now())"""
    )
    for migration in todo:
        # Migration files are ours, shipped in the package; they hold no user input.
        conn.execute(migration.body.encode())
        conn.execute(
            "insert into warden.migrations (version, name) values (%s, %s)",
            (migration.version, migration.name),
        )
    return todo


@dataclass(frozen=True)
class OwnedObject:
    """A ledger row: an object pgwarden created and what it looked like when it left it."""

    ref: ObjectRef
    feature: str
    table: QualifiedName
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
                table=QualifiedName(table["schema"], table["name"]),
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
            json.dumps({"schema": obj.table.schema, "name": obj.table.name}),
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
