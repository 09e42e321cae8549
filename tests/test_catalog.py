"""Catalog introspection on a real server: what plans are built from."""

from __future__ import annotations

from typing import Any

import psycopg

from pgwarden._names import QualifiedName
from pgwarden.catalog import read_catalog


def test_catalog_reads_tables_keys_fks_indexes_triggers_rls(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        """
        create schema app;
        create table app.users (
            user_id bigint generated always as identity primary key,
            email text not null unique,
            tenant int not null default 1,
            score numeric(10, 2),
            slug text generated always as (lower(email)) stored
        );
        create table app.entries (
            entry_id bigint,
            user_id bigint not null references app.users on delete cascade,
            entry_date date not null,
            note text,
            primary key (entry_id, entry_date)
        ) partition by range (entry_date);
        create table app.entries_2026 partition of app.entries
            for values from ('2026-01-01') to ('2027-01-01');
        create table app.log (at timestamptz, msg text);
        create index log_at on app.log (at) where msg is not null;
        create index users_lower on app.users (lower(email));
        create function app.t() returns trigger language plpgsql as 'begin return new; end';
        create trigger users_t before update on app.users for each row execute function app.t();
        alter table app.users enable row level security;
        alter table app.users force row level security;
        """
    )
    catalog = read_catalog(conn)
    assert catalog.server.major >= 14
    assert catalog.server.database == conn.info.dbname

    users = catalog.tables[QualifiedName("app", "users")]
    assert users.primary_key is not None and users.primary_key.columns == ("user_id",)
    assert [k.columns for k in users.unique_keys] == [("email",)]
    assert users.column_names == ("user_id", "email", "tenant", "score", "slug")
    score = users.column("score")
    assert score is not None and score.type == "numeric(10,2)" and not score.not_null
    tenant = users.column("tenant")
    assert tenant is not None and tenant.default == "1" and tenant.not_null
    assert users.column("user_id").identity  # type: ignore[union-attr]
    assert users.column("slug").generated  # type: ignore[union-attr]
    assert users.rls_enabled and users.rls_forced
    assert [t.name for t in users.triggers] == ["users_t"]
    assert {i.name: i.columns for i in users.indexes}["users_lower"] == ("lower(email)",)

    entries = catalog.tables[QualifiedName("app", "entries")]
    assert entries.is_partitioned and entries.partition_key == "RANGE (entry_date)"
    (fk,) = entries.foreign_keys
    assert fk.references == users.name and fk.on_delete == "CASCADE" and fk.columns == ("user_id",)
    assert [f.table for f in users.referenced_by] == [entries.name]  # the parent's FK only

    part = catalog.tables[QualifiedName("app", "entries_2026")]
    assert part.partition_of == entries.name

    log = catalog.tables[QualifiedName("app", "log")]
    assert log.primary_key is None
    (index,) = log.indexes
    assert index.partial and not index.unique and index.columns == ("at",)

    assert catalog.closest_table(QualifiedName("app", "entrys")) == entries.name
    assert catalog.closest_table(QualifiedName("public", "users")) == users.name
    assert not any(name.schema == "warden" for name in catalog.tables)
