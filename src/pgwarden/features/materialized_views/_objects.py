"""A declared view as one owned object: the materialized view and its indexes.

Its fingerprint covers the view's query and its indexes, so an index dropped by hand is
drift. A changed query (or a repair) is built beside and swapped (``alter``): the new view
is built and indexed under a temporary name while readers keep reading the old one, then
the old one is dropped and the new one renamed, so readers wait only for the swap (under
the apply's ``lock_timeout``), never for the build.
"""

from __future__ import annotations

import hashlib

from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.engine import DesiredObject, Lock, ObjectRef
from pgwarden.engine._objects import Kind
from pgwarden.features.materialized_views._options import ViewSpec

FEATURE = "materialized_views"
MATERIALIZED_VIEW = Kind(
    "materialized_view",
    62,  # after tables, columns, functions and plain views it may read
    """select md5(pg_get_viewdef(c.oid) || coalesce((
                  select string_agg(pg_get_indexdef(i.indexrelid), ';' order by 1)
                    from pg_index i where i.indrelid = c.oid), ''))
         from pg_class c
        where c.oid = to_regclass(%(regclass)s) and c.relkind = 'm'""",
)


def index_name(name: QualifiedName, columns: tuple[str, ...], *, unique: bool) -> str:
    digest = hashlib.sha256(",".join(columns).encode()).hexdigest()[:6]
    stem = name.name[:40]
    return f"{stem}_{'key' if unique else 'idx'}_{digest}"


def _build(
    target: QualifiedName, query: str, view: ViewSpec, *, index_of: QualifiedName
) -> list[sql.Composable]:
    """CREATE of the view named ``target`` and its indexes (named after ``index_of``)."""
    steps: list[sql.Composable] = [
        # The user's SELECT, as in a migration; the plan first prepares it alone on the
        # server (one statement, never two), see MaterializedViews.prepare.
        sql.SQL("CREATE MATERIALIZED VIEW {} AS {} WITH DATA").format(target.ident, sql.SQL(query))
    ]
    for columns, unique in index_specs(view):
        steps.append(index_statement(target, columns, unique=unique, index_of=index_of))
    return steps


def index_specs(view: ViewSpec) -> list[tuple[tuple[str, ...], bool]]:
    """(columns, unique) of each index the view declares: its unique key first."""
    specs = [(view.unique_key, True)] if view.unique_key else []
    return specs + [(cols, False) for cols in view.indexes]


def index_statement(
    target: QualifiedName, columns: tuple[str, ...], *, unique: bool, index_of: QualifiedName
) -> sql.Composable:
    """CREATE INDEX on ``target`` (named after ``index_of``, which a swap renames)."""
    return sql.SQL("CREATE {}INDEX {} ON {} ({})").format(
        sql.SQL("UNIQUE ") if unique else sql.SQL(""),
        sql.Identifier(index_name(index_of, columns, unique=unique)),
        target.ident,
        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
    )


def view_object(
    name: QualifiedName, query: str, view: ViewSpec, *, note: str | None = None
) -> DesiredObject:
    """The owned object of one declared view."""
    beside = QualifiedName(name.schema, f"{name.name[:40]}__pgwarden_new")
    create = sql.SQL(";\n").join(_build(name, query, view, index_of=name))
    swap: list[sql.Composable] = [
        sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {}").format(beside.ident),
        *_build(beside, query, view, index_of=beside),
        sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {}").format(name.ident),
        sql.SQL("ALTER MATERIALIZED VIEW {} RENAME TO {}").format(
            beside.ident, sql.Identifier(name.name)
        ),
    ]
    for columns, unique in index_specs(view):
        swap.append(
            sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(name.schema, index_name(beside, columns, unique=unique)),
                sql.Identifier(index_name(name, columns, unique=unique)),
            )
        )
    how = (
        f"refreshed CONCURRENTLY on unique key ({', '.join(view.unique_key)})"
        if view.unique_key
        else "no unique_key: each refresh takes ACCESS EXCLUSIVE (readers wait for it)"
    )
    return DesiredObject(
        ref=ObjectRef(MATERIALIZED_VIEW.name, name.schema, name.name),
        feature=FEATURE,
        table=None,
        create=create,
        drop=sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {}").format(name.ident),
        alter=sql.SQL(";\n").join(swap),
        description=f"materialized view {name} ({how}{'; ' + note if note else ''})",
        lock=Lock("ACCESS EXCLUSIVE", name),
    )
