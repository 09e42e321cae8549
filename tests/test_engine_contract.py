"""The engine's half of the feature contract, driven by a feature the engine has never seen:
its own kind of object, a database-wide object, a state stream with a defined-once function
(replaced when its file changes), and work outside apply through ``apply_scoped``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pytest
from psycopg import sql

from pgwarden import Warden
from pgwarden._names import QualifiedName
from pgwarden.catalog import Table
from pgwarden.engine import (
    APPLYING,
    KINDS,
    DesiredObject,
    Kind,
    ObjectRef,
    Stream,
    apply_scoped,
    read_ledger,
)
from pgwarden.errors import PgwardenError
from pgwarden.features import Feature, PlanContext, registered_features
from pgwarden.spec import FeatureOptions, parse_spec

FUNCTION = """-- function warden.example_count()
create or replace function warden.example_count() returns bigint
language sql stable as $$ select count(*) from warden.example_rows $$;
"""


class _Options(FeatureOptions):
    pass


class _Example(Feature):
    """A row per declared table in a table of its own (its stream), through a kind of its
    own; a schema for the whole database."""

    name = "example"
    summary = "test only"
    options: ClassVar[type[FeatureOptions]] = _Options

    def __init__(self, package: str) -> None:
        self.package = package

    def stream(self) -> Stream:
        return Stream(self.name, self.package)

    def kinds(self) -> list[Kind]:
        return [
            Kind(
                "example_row",
                26,
                "select 'row' from warden.example_rows where name = %(rel_name)s",
                drop_lock=None,
                needs="warden.example_rows",
                on_relation=True,
            )
        ]

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        return [
            DesiredObject(
                ref=ObjectRef("example_row", "warden", "row", table.name),
                feature=self.name,
                table=table.name,
                create=sql.SQL("INSERT INTO warden.example_rows VALUES ({})").format(
                    sql.Literal(table.name.name)
                ),
                drop=sql.SQL("DELETE FROM warden.example_rows WHERE name = {}").format(
                    sql.Literal(table.name.name)
                ),
                description=f"example row of {table.name}",
            )
        ]

    def database_objects(self, ctx: PlanContext) -> list[DesiredObject]:
        return [
            DesiredObject(
                ref=ObjectRef("schema", "example_wide", "example_wide"),
                feature=self.name,
                table=None,
                create=sql.SQL("CREATE SCHEMA example_wide"),
                drop=sql.SQL("DROP SCHEMA IF EXISTS example_wide"),
                description="schema example_wide",
            )
        ]


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    """A package of the example feature's SQL, importable for this test only."""
    name = f"pgw_example_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / name
    (root / "migrations").mkdir(parents=True)
    (root / "functions").mkdir()
    (root / "__init__.py").write_text("")
    (root / "migrations" / "0001_rows.sql").write_text(
        "create table warden.example_rows (name text primary key);\n"
    )
    (root / "functions" / "example_count.sql").write_text(FUNCTION)
    sys.path.insert(0, str(tmp_path))
    try:
        yield root
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)
        # Planning registered the example's kind in the engine's process-wide table: take
        # it back, or a later test in this worker (the docs' kinds table) would see it.
        KINDS.pop("example_row", None)


def _warden(db_url: str, package: Path, text: str) -> Warden:
    features = {**registered_features(), "example": _Example(package.name)}
    spec = parse_spec(text, features={k: f.options for k, f in features.items()})
    return Warden(db_url, spec=spec, features=features)


def _tables(conn: psycopg.Connection[Any]) -> dict[str, str | None]:
    return {
        o.ref.key: str(o.table) if o.table else None
        for o in read_ledger(conn).values()
        if o.feature == "example"
    }


def test_a_new_feature_plugs_in_kinds_streams_and_database_wide_objects(
    conn: psycopg.Connection[Any], db_url: str, package: Path
) -> None:
    conn.execute("create table a (id int primary key); create table b (id int primary key)")
    both = '[tables."public.a"]\nexample = true\n[tables."public.b"]\nexample = true\n'
    with _warden(db_url, package, both) as warden:
        plan = warden.plan()
        (migrate,) = [c for c in plan.changes if c.action == "migrate"]
        assert "example 0001_rows" in migrate.description
        order = [c.ref.key for c in plan.changes if c.ref and c.feature == "example"]
        # Database-wide first (its function, its schema), then one row per table.
        assert order == [
            "schema example_wide.example_wide",
            "function warden.example_count",
            "example_row public.a/row",
            "example_row public.b/row",
        ]
        warden.apply()
        assert warden.plan().empty
    assert _tables(conn) == {
        "schema example_wide.example_wide": None,
        "function warden.example_count": None,
        "example_row public.a/row": "public.a",
        "example_row public.b/row": "public.b",
    }
    assert conn.execute("select warden.example_count()").fetchone() == (2,)
    assert conn.execute(
        "select version from warden.migrations where stream = 'example'"
    ).fetchone() == (1,)

    # Its own kind shows drift like any other.
    conn.execute("delete from warden.example_rows where name = 'b'")
    with _warden(db_url, package, both) as warden:
        (change,) = warden.plan().changes
        assert (change.action, change.reason) == ("repair", "dropped outside pgwarden")
        warden.apply()

    # A changed function file is a changed definition: replaced, no migration.
    (package / "functions" / "example_count.sql").write_text(
        FUNCTION.replace("count(*)", "count(*) * 10")
    )
    with _warden(db_url, package, both) as warden:
        (change,) = warden.plan().changes
        assert (change.action, change.ref and change.ref.key) == (
            "replace",
            "function warden.example_count",
        )
        warden.apply()
    assert conn.execute("select warden.example_count()").fetchone() == (20,)

    # One table left: the database-wide schema stays; none: it goes, the state and the
    # function reading it stay (its stream is installed).
    with _warden(db_url, package, '[tables."public.a"]\nexample = true\n') as warden:
        assert [c.ref.key for c in warden.plan().changes if c.ref] == ["example_row public.b/row"]
        warden.apply()
    with _warden(db_url, package, "") as warden:
        warden.apply()
        assert warden.plan().empty
    assert _tables(conn) == {"function warden.example_count": None}
    assert conn.execute("select to_regnamespace('example_wide')").fetchone() == (None,)
    assert conn.execute("select warden.example_count()").fetchone() == (0,)


def test_apply_scoped_locks_marks_and_records_inside_the_callers_transaction(
    conn: psycopg.Connection[Any], db_url: str, package: Path
) -> None:
    conn.execute("create table a (id int primary key)")
    text = '[tables."public.a"]\nexample = true\n'
    with _warden(db_url, package, text) as warden:
        warden.apply()
        features, spec = warden.features, warden.spec
    conn.execute("delete from warden.example_rows")
    with pytest.raises(PgwardenError, match="inside the caller's transaction"):
        apply_scoped(conn, spec, features, tables=[_name("public.a")])
    with psycopg.connect(db_url, autocommit=True) as other, conn.transaction():
        done = apply_scoped(conn, spec, features, tables=[_name("public.a")])
        assert [c.action for c in done] == ["repair"]
        assert conn.execute(
            "select warden.applying(), current_setting(%s)", (APPLYING,)
        ).fetchone() == (
            True,
            "on",
        )
        # The apply lock is this transaction's until it ends.
        held = other.execute("select pg_try_advisory_lock(x'706777617264656e'::bigint)").fetchone()
        assert held == (False,)
    assert conn.execute("select warden.applying()").fetchone() == (False,)
    assert conn.execute("select count(*) from warden.example_rows").fetchone() == (1,)
    with _warden(db_url, package, text) as warden:
        assert warden.plan().empty


def _name(text: str) -> QualifiedName:
    return QualifiedName.parse(text)
