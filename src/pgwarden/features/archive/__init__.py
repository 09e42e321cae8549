"""``archive``: old rows move to an archive table, in batches, one transaction each.

Declared as ``archive = { after = "2 years", column = "entry_date" }``. What a table gets:

- an archive table owned by pgwarden (default ``archive.<table>``) with the source's columns
  plus ``archived_at``, ``archived_by``, ``archive_reason``, the source's primary key, lz4
  compression where the server has it, and partitioned like the source when it is;
- a view ``<table>__all`` beside the source: live and archived rows, with ``row_location``;
- maintenance jobs: ``archive`` (the mover) and, with ``retention``, ``archive-retention``.

The archive table's columns are owned one by one, so a column added to the source becomes an
``ALTER TABLE ... ADD COLUMN`` on the archive, never a rebuild. A column dropped from the
source is kept in the archive (its archived values stay; see docs/archive.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.catalog import Catalog, Column, Table
from pgwarden.engine import DesiredObject, Lock, ObjectRef
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features._base import Feature, PlanContext
from pgwarden.features.archive._api import ArchiveAPI
from pgwarden.features.archive._mover import archive_job, retention_job
from pgwarden.features.archive._options import (
    FIXED_COLUMNS,
    LOCATION_COLUMN,
    ArchiveOptions,
    archive_name,
    key_name,
    view_name,
)
from pgwarden.features.archive._partitions import archive_partition
from pgwarden.features.archive._restore import restore
from pgwarden.features.archive._sql import TIME_TYPES, check_predicate, partition_columns
from pgwarden.maintenance import Job
from pgwarden.spec import FeatureOptions

__all__ = ["Archive", "ArchiveOptions", "archive_name", "archive_partition", "restore"]

if TYPE_CHECKING:
    import typer


@dataclass(frozen=True)
class ServerFacts:
    """What planning needs to know beyond the catalog (read once per plan by ``prepare``)."""

    conn: psycopg.Connection[Any]
    """The planning connection, used only to check ``where`` predicates (read-only, rolled
    back): a predicate that does not compile must stop the plan, not the first night's run."""
    lz4: bool
    compressible: frozenset[int]
    """Type oids whose values can be compressed (varlena types)."""
    schemas: frozenset[str]


class Archive(Feature):
    name = "archive"
    summary = "old rows moved to an archive table in batches; union view; restore; retention"
    options: ClassVar[type[FeatureOptions]] = ArchiveOptions
    api = ArchiveAPI
    keeps_history = True

    def receive_partition(
        self,
        conn: psycopg.Connection[Any],
        table: QualifiedName,
        partition: QualifiedName,
        options: FeatureOptions,
        *,
        lock_timeout_ms: int,
        retries: int,
    ) -> int:
        """A partition partition retention lets go (``retention_mode = "archive"``) joins the
        archive whole, or its rows move in batches (see ``archive_partition``)."""
        assert isinstance(options, ArchiveOptions)
        return archive_partition(
            conn, table, partition, options, lock_timeout_ms=lock_timeout_ms, retries=retries
        )

    def commands(self, app: typer.Typer) -> None:
        from pgwarden.features.archive._cli import register  # the CLI loads only when used

        register(app)

    def prepare(self, conn: psycopg.Connection[Any]) -> ServerFacts:
        row = conn.execute(
            "select 'lz4' = any(enumvals) from pg_settings where name = 'default_toast_compression'"
        ).fetchone()
        types = conn.execute("select oid from pg_type where typlen = -1 and typstorage <> 'p'")
        schemas = conn.execute("select nspname from pg_namespace")
        return ServerFacts(
            conn=conn,
            lz4=bool(row and row[0]),
            compressible=frozenset(int(r[0]) for r in types.fetchall()),
            schemas=frozenset(str(r[0]) for r in schemas.fetchall()),
        )

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        assert isinstance(options, ArchiveOptions)
        facts: ServerFacts = ctx.state[self.name]
        self._check(table, options, facts)
        # Mirror the source as this apply leaves it (soft delete or timestamps may add
        # columns in the same apply): one apply settles.
        table = ctx.with_columns_to_come(table)
        target = archive_name(table.name, options)
        if target == table.name or target.schema == "warden":
            self._refuse(table, f"table = {options.table!r} cannot be the source or in warden")
        key = table.primary_key.columns if table.primary_key else ()
        part_cols = partition_columns(facts.conn, table) if table.is_partitioned else ()
        if part_cols is None:
            self._refuse(table, "its partition key is an expression; archive needs plain columns")
        found: list[DesiredObject] = []
        schema = self._schema(table, target, ctx, facts)
        if schema is not None:
            found.append(schema)
        found.append(self._table(table, target, part_cols or ()))
        existing = ctx.catalog.get(target)
        columns = [c for c in table.columns if c.name not in (part_cols or ())]
        for col in columns:
            found.append(self._column(target, table, col, col.name in key, facts))
        retired: list[Column] = []
        if existing is not None:
            # Columns the source no longer has stay in the archive with their values.
            for col in existing.columns:
                ref = ObjectRef("column", target.schema, col.name, target)
                gone = table.column(col.name) is None and col.name not in FIXED_COLUMNS
                if gone and ctx.owns(ref):
                    retired.append(col)
                    found.append(self._column(target, table, col, col.not_null, facts))
        found.append(self._key(table, target, key))
        found.append(self._view(table, target, retired, ctx))
        return found

    def jobs(self, declared: Sequence[tuple[Table, FeatureOptions]], catalog: Catalog) -> list[Job]:
        jobs: list[Job] = []
        for table, options in declared:
            assert isinstance(options, ArchiveOptions)
            jobs.append(archive_job(table, options, catalog))
            if options.retention is not None:
                jobs.append(retention_job(table, options, catalog))
        return jobs

    # -- checks ------------------------------------------------------------------------------

    def _refuse(self, table: Table, reason: str) -> None:
        raise FeatureNotApplicable(str(table.name), self.name, reason)

    def _check(self, table: Table, options: ArchiveOptions, facts: ServerFacts) -> None:
        column = table.column(options.column)
        if column is None:
            self._refuse(table, f"column: no column {options.column!r}")
        elif column.type not in TIME_TYPES:
            self._refuse(
                table,
                f"column {options.column!r} is {column.type}; it must be a date, a timestamp "
                "or an integer of Unix seconds",
            )
        if table.primary_key is None:
            self._refuse(
                table,
                "it has no primary key; archived rows are restored by key, and the key is "
                "what proves a row is never in both places",
            )
        clash = sorted({*FIXED_COLUMNS, LOCATION_COLUMN} & set(table.column_names))
        if clash:
            self._refuse(table, f"column {', '.join(clash)} is a name the archive itself uses")
        if table.partition_of is not None:
            self._refuse(table, f"it is a partition of {table.partition_of}; declare the parent")
        if options.where is not None:
            problem = check_predicate(facts.conn, table.name, options.where)
            if problem is not None:
                self._refuse(table, f"where {options.where!r} is not a valid predicate: {problem}")

    # -- objects -----------------------------------------------------------------------------

    def _schema(
        self, table: Table, target: QualifiedName, ctx: PlanContext, facts: ServerFacts
    ) -> DesiredObject | None:
        ref = ObjectRef("schema", target.schema, target.schema)
        if target.schema in facts.schemas and not ctx.owns(ref):
            return None  # the user's schema: used, never dropped
        # Several tables archive into one schema: the first of them (by name) owns it.
        sharing = [
            t.name
            for t in ctx.spec.tables.values()
            if isinstance(o := t.features.get(self.name), ArchiveOptions)
            and archive_name(t.name, o).schema == target.schema
        ]
        if min(sharing, default=table.name) != table.name:
            return None
        return DesiredObject(
            ref=ref,
            feature=self.name,
            table=table.name,
            create=sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target.schema)),
            # RESTRICT: a schema holding anything else (a user's table) is not dropped.
            drop=sql.SQL("DROP SCHEMA IF EXISTS {} RESTRICT").format(sql.Identifier(target.schema)),
            description=f"schema {target.schema} for archive tables",
        )

    def _table(
        self, table: Table, target: QualifiedName, part_cols: tuple[str, ...]
    ) -> DesiredObject:
        # Only what never changes is in CREATE TABLE (the fixed columns, and the partition key,
        # which must exist at creation): a changed CREATE would mean a rebuild, losing data.
        defs: list[sql.Composable] = [
            sql.SQL("{} {} NOT NULL").format(sql.Identifier(c), sql.SQL(_type(table, c)))
            for c in part_cols
        ]
        defs += [
            sql.SQL("archived_at timestamptz NOT NULL DEFAULT now()"),
            sql.SQL("archived_by text"),
            sql.SQL("archive_reason text"),
        ]
        partition: sql.Composable = sql.SQL("")
        if table.is_partitioned and table.partition_key:
            # pg_get_partkeydef text (server-rendered, of plain columns: checked above).
            partition = sql.SQL(" PARTITION BY ") + sql.SQL(table.partition_key)
        comment = sql.SQL("COMMENT ON TABLE {} IS {}").format(
            target.ident,
            sql.Literal(f"Archived rows of {table.name} (pgwarden archive feature)."),
        )
        return DesiredObject(
            ref=ObjectRef("data_table", target.schema, target.name),
            feature=self.name,
            table=table.name,
            create=sql.SQL("CREATE TABLE {} ({}){}").format(
                target.ident, sql.SQL(", ").join(defs), partition
            ),
            drop=sql.SQL("DROP TABLE IF EXISTS {}").format(target.ident),
            # Never dropped to be "redefined": a changed partition key is the mover's problem
            # (it falls back to row batches), not a reason to lose archived rows.
            alter=comment,
            description=f"archive table {target} for {table.name}",
            lock=Lock("ACCESS EXCLUSIVE", target),
            destructive=True,
        )

    def _column(
        self, target: QualifiedName, table: Table, col: Column, not_null: bool, facts: ServerFacts
    ) -> DesiredObject:
        name = sql.Identifier(col.name)
        kind = sql.SQL(col.type)  # format_type output (server-rendered), not user text
        extra: sql.Composable = sql.SQL(" NOT NULL" if not_null else "")
        if facts.lz4 and col.type_oid in facts.compressible:
            extra += sql.SQL(" COMPRESSION lz4")
        null = sql.SQL("SET NOT NULL" if not_null else "DROP NOT NULL")
        return DesiredObject(
            ref=ObjectRef("column", target.schema, col.name, target),
            feature=self.name,
            table=table.name,
            create=sql.SQL("ALTER TABLE {} ADD COLUMN {} {}{}").format(
                target.ident, name, kind, extra
            ),
            drop=sql.SQL("ALTER TABLE {} DROP COLUMN IF EXISTS {}").format(target.ident, name),
            alter=sql.SQL(
                "ALTER TABLE {0} ALTER COLUMN {1} TYPE {2} USING {1}::{2}, ALTER COLUMN {1} {3}"
            ).format(target.ident, name, kind, null),
            description=f"column {col.name} of archive {target}",
            lock=Lock("ACCESS EXCLUSIVE", target),
            destructive=True,
        )

    def _key(self, table: Table, target: QualifiedName, key: tuple[str, ...]) -> DesiredObject:
        name = key_name(target)
        return DesiredObject(
            ref=ObjectRef("index", target.schema, name),
            feature=self.name,
            table=table.name,
            create=sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                target.ident, sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, key))
            ),
            drop=sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
                target.ident, sql.Identifier(name)
            ),
            description=f"primary key of archive {target} ({', '.join(key)})",
            lock=Lock("ACCESS EXCLUSIVE", target),
        )

    def _view(
        self, table: Table, target: QualifiedName, retired: list[Column], ctx: PlanContext
    ) -> DesiredObject:
        view = view_name(table.name)
        cols: list[sql.Composable] = [sql.Identifier(c) for c in table.column_names]
        gone: list[sql.Composable] = [sql.Identifier(c.name) for c in retired]
        live = cols + [sql.SQL("NULL::{} AS {}").format(sql.SQL(c.type), sql.Identifier(c.name))
                       for c in retired]  # fmt: skip
        live += [sql.SQL("NULL::timestamptz AS archived_at"), sql.SQL("'live'::text")]
        archived: list[sql.Composable] = [*cols, *gone, sql.SQL("archived_at")]
        archived.append(sql.SQL("'archive'::text"))
        # security_invoker (15+): readers need rights on both tables, and RLS applies to them.
        options = sql.SQL(
            " WITH (security_invoker = true)" if ctx.catalog.server.major >= 15 else ""
        )
        return DesiredObject(
            ref=ObjectRef("view", view.schema, view.name),
            feature=self.name,
            table=table.name,
            create=sql.SQL(
                "CREATE VIEW {view}{opts} AS SELECT {live} AS {loc} FROM {src} "
                "UNION ALL SELECT {arch} FROM {target}"
            ).format(
                view=view.ident,
                opts=options,
                live=sql.SQL(", ").join(live),
                loc=sql.Identifier(LOCATION_COLUMN),
                src=table.name.ident,
                arch=sql.SQL(", ").join(archived),
                target=target.ident,
            ),
            drop=sql.SQL("DROP VIEW IF EXISTS {}").format(view.ident),
            description=f"view {view}: live and archived rows of {table.name}",
        )


def _type(table: Table, column: str) -> str:
    col = table.column(column)
    assert col is not None
    return col.type
