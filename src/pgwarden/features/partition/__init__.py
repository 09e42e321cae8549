"""``partition``: range (time or integer) and list partitions, kept by maintenance.

What apply owns (the declarative part): the check that the table's partitioning matches the
declaration, and the default partition. What maintenance owns: the child partitions (premake
creates them, rescue fills them from the default, retention detaches, drops or archives
them). Children are data, not schema: the ledger never lists them, so a plan never proposes
to drop or recreate one. See ``docs/partitions.md``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName, owned_name
from pgwarden.catalog import Catalog, Table
from pgwarden.engine import DesiredObject, Lock, ObjectRef, Stream
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features._base import Feature, PlanContext
from pgwarden.features.partition import _jobs
from pgwarden.features.partition._api import PartitionsAPI
from pgwarden.features.partition._layout import INT_TYPES, TIME_TYPES, partman_tables
from pgwarden.features.partition._options import PartitionOptions, Step
from pgwarden.maintenance import Job, JobContext
from pgwarden.spec import FeatureOptions, Spec

_KEY = re.compile(r'^(RANGE|LIST) \(("(?:[^"]|"")+"|[^\s,()"]+)\)$')

if TYPE_CHECKING:
    import typer


@dataclass(frozen=True)
class PartitionState:
    partman: dict[QualifiedName, str]
    defaults: dict[int, QualifiedName]
    """Partitioned table oid -> its default partition."""


def default_name(table: QualifiedName) -> QualifiedName:
    return QualifiedName(table.schema, owned_name(table.name, suffix="default"))


def conversion_steps(table: Table, options: PartitionOptions) -> list[str]:
    """What ``pgwarden partitions convert`` does, in order (the plan of a conversion)."""
    shadow = owned_name(table.name.name, suffix="pgw_new")
    return [
        f"create {table.name.schema}.{shadow}, partitioned by {options.strategy} on "
        f"{options.column}, with the table's columns, defaults, constraints, indexes, "
        "outgoing foreign keys, grants and the partitions the rows need (and a default)",
        "add a trigger logging the key of every row changed from now on",
        "copy the rows in key order, in batches, one transaction each (resumable)",
        "replay the logged changes until few are left; verify count and checksum",
        "swap under lock_timeout (retried): replay the rest, move incoming foreign keys, "
        "sequences, triggers, policies, comment and pgwarden features, drop the old table, "
        "rename the new one",
    ]


class Partition(Feature):
    name = "partition"
    summary = "range/list partitions with premake, default rescue, retention (detach/drop/archive)"
    options: ClassVar[type[FeatureOptions]] = PartitionOptions
    api = PartitionsAPI

    def health(self, conn: psycopg.Connection[Any], spec: Spec) -> list[str]:
        # Declared partitioned tables with rows waiting in their default partition.
        from pgwarden.features.partition._report import report

        return [
            f"partitions: {r.table}: {r.message}"
            for r in report(conn, spec)
            if r.declared and r.default_rows
        ]

    def commands(self, app: typer.Typer) -> None:
        from pgwarden.features.partition._cli import register  # the CLI loads only when used

        register(app)

    def stream(self) -> Stream:
        """Its state in the ``warden`` schema (``migrations/``)."""
        return Stream(self.name, "pgwarden.features.partition")

    def prepare(self, conn: psycopg.Connection[Any]) -> PartitionState:
        rows = conn.execute(
            """select i.inhparent, n.nspname, c.relname from pg_class c
               join pg_inherits i on i.inhrelid = c.oid
               join pg_namespace n on n.oid = c.relnamespace
               where c.relispartition and pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'"""
        ).fetchall()
        defaults = {int(r[0]): QualifiedName(r[1], r[2]) for r in rows}
        return PartitionState(partman_tables(conn), defaults)

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        assert isinstance(options, PartitionOptions)
        state: PartitionState = ctx.state.get(self.name) or PartitionState({}, {})
        where = str(table.name)
        if table.name in state.partman:
            raise FeatureNotApplicable(
                where,
                self.name,
                f"it is managed by pg_partman (its part_config in schema "
                f"{state.partman[table.name]}); pgwarden leaves it alone: remove the "
                "declaration, or remove the table from pg_partman first",
            )
        self._check_column(table, options)
        if not table.is_partitioned:
            steps = "; ".join(
                f"{i}. {s}" for i, s in enumerate(conversion_steps(table, options), 1)
            )
            raise FeatureNotApplicable(
                where,
                self.name,
                f"it is a plain table; convert it first with `pgwarden partitions convert "
                f"{table.name}` (the table stays writable; {steps})",
            )
        self._check_key(table, options)
        if options.retention_mode == "archive" and options.retention is not None:
            table_spec = ctx.spec.tables.get(table.name)
            declared = table_spec.features if table_spec else {}
            if not any(isinstance(ctx.features.get(n), _jobs.PartitionReceiver) for n in declared):
                raise FeatureNotApplicable(
                    where,
                    self.name,
                    "retention_mode = archive needs archive declared on the table",
                )
        if not options.default:
            return []
        existing = state.defaults.get(table.oid)
        ours = default_name(table.name)
        if existing is not None and existing != ours:
            return []  # the user's own default partition: adopted, never dropped by pgwarden
        return [
            DesiredObject(
                ref=ObjectRef("partition", ours.schema, ours.name, table.name),
                feature=self.name,
                table=table.name,
                create=sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(
                    ours.ident, table.name.ident
                ),
                drop=sql.SQL("DROP TABLE IF EXISTS {}").format(ours.ident),
                description=f"default partition of {table.name}",
                lock=Lock("ACCESS EXCLUSIVE", table.name),
                destructive=True,
            )
        ]

    def partitions_to_come(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[QualifiedName]:
        """The default partition this apply creates (when none exists yet)."""
        assert isinstance(options, PartitionOptions)
        state = ctx.state.get(self.name)
        if not options.default or not table.is_partitioned or state is None:
            return []
        return [] if table.oid in state.defaults else [default_name(table.name)]

    def _check_column(self, table: Table, options: PartitionOptions) -> None:
        column = table.column(options.column)
        if column is None:
            from pgwarden._names import closest

            near = closest(options.column, table.column_names)
            hint = f" (did you mean {near!r}?)" if near else ""
            raise FeatureNotApplicable(
                str(table.name), self.name, f"column: no column {options.column!r}{hint}"
            )
        if options.strategy == "list":
            return
        step = options.step
        if step.is_time and column.type not in TIME_TYPES:
            raise FeatureNotApplicable(
                str(table.name),
                self.name,
                f"interval {options.interval!r} needs a date or timestamp column; "
                f"{options.column} is {column.type}",
            )
        if not step.is_time and column.type not in INT_TYPES:
            raise FeatureNotApplicable(
                str(table.name),
                self.name,
                f"an integer interval needs an integer column; {options.column} is {column.type}",
            )
        if column.type == "date" and step.unit == "hour":
            raise FeatureNotApplicable(
                str(table.name), self.name, f"interval {options.interval!r} on a date column"
            )

    def _check_key(self, table: Table, options: PartitionOptions) -> None:
        match = _KEY.match(table.partition_key or "")
        column = None
        if match:
            raw = match.group(2)
            column = raw[1:-1].replace('""', '"') if raw.startswith('"') else raw
        if not match or match.group(1).lower() != options.strategy or column != options.column:
            raise FeatureNotApplicable(
                str(table.name),
                self.name,
                f"it is partitioned by {table.partition_key}, the declaration says "
                f"{options.strategy.upper()} ({options.column}); pgwarden does not repartition "
                "a partitioned table",
            )

    def jobs(self, declared: Sequence[tuple[Table, FeatureOptions]], catalog: Catalog) -> list[Job]:
        found: list[Job] = []
        for table, options in declared:
            if not isinstance(options, PartitionOptions) or not table.is_partitioned:
                continue  # plain tables: the plan says how to convert them
            found.append(_job("partition-premake", table, options, _jobs.premake))
            if options.strategy == "range" and options.default:
                found.append(_job("partition-rescue", table, options, _jobs.rescue))
            if options.retention is not None:
                found.append(_job("partition-retention", table, options, _jobs.retention))
        return found


# Partitions are made before rows are rescued into them or moved by other jobs; old ones go
# after the archive has taken what it keeps.
_AFTER: dict[str, tuple[str, ...]] = {
    "partition-premake": (),
    "partition-rescue": ("partition-premake",),
    "partition-retention": ("partition-rescue", "purge", "archive", "archive-retention"),
}
_BEFORE: dict[str, tuple[str, ...]] = {
    "partition-premake": ("archive", "purge"),
    "partition-rescue": ("archive", "purge"),
    "partition-retention": (),
}


def _job(name: str, table: Table, options: PartitionOptions, run: Any) -> Job:
    what = {
        "partition-premake": f"create partitions ahead ({options.premake} premade)",
        "partition-rescue": "move rows out of the default partition",
        "partition-retention": f"{options.retention_mode} partitions older than "
        f"{options.retention}",
    }[name]

    def go(ctx: JobContext) -> tuple[int, str]:
        result: tuple[int, str] = run(ctx, table.name, options)
        return result

    return Job(
        name=name,
        feature="partition",
        table=table.name,
        description=f"{what} of {table.name}",
        run=go,
        after=_AFTER[name],
        before=_BEFORE[name],
    )


__all__ = ["Partition", "PartitionOptions", "Step", "conversion_steps", "default_name"]
