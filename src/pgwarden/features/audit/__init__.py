"""``audit``: every INSERT, UPDATE, DELETE and TRUNCATE captured by the database itself.

The capture runs inside PostgreSQL as triggers, so raw SQL from psql is recorded exactly like
an ORM's writes. Events go to pgwarden's shared, append-only store (``warden.audit_events``,
created by the internal migrations) with the transaction's context recorded once per
transaction. What a table gets:

- a registration row in ``warden.audit_tables`` (how its rows are identified);
- a capture function ``warden.<schema>_<table>__audit()`` (SECURITY DEFINER: application
  roles need no privilege on the store, and cannot rewrite it);
- statement-level triggers with transition tables (one query per statement, whatever the
  number of rows); or, for a partitioned table, a row-level trigger on the parent, which
  PostgreSQL clones to every partition, present and future.

With ``capture = "wal"`` the rows are read from the WAL instead (see ``_wal``): the table
gets ``REPLICA IDENTITY FULL``, joins publication ``pgwarden_audit``, and its capture
function only sends, signed, the transaction's context (when it changes), the bounds of
key-changing UPDATEs and TRUNCATEs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName, closest, owned_name
from pgwarden.catalog import Catalog, Table
from pgwarden.engine import DesiredObject, Kind, ObjectRef, Stream
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features._base import (
    Feature,
    PlanContext,
    function_body,
    sql_template,
    trigger,
    trigger_function,
)
from pgwarden.features.audit import _wal
from pgwarden.features.audit._api import AuditAPI
from pgwarden.features.audit._checkpoints import checkpoint_job
from pgwarden.features.audit._events import EVENT_TRIGGER, event_triggers
from pgwarden.features.audit._kinds import KINDS
from pgwarden.features.audit._options import AuditOptions
from pgwarden.features.audit._registration import registration
from pgwarden.features.audit._relations import relation_replaced
from pgwarden.features.audit._sql import capture_args, capture_parts, choose_key, wal_parts
from pgwarden.features.audit._store import store_jobs
from pgwarden.features.audit._wal import Slots
from pgwarden.features.audit._wal_plan import (
    C_CAPTURE_FUNCTION,
    TRUNCATE_TRIGGER,
    auto_override,
    capture_in_c,
    choose_capture,
    context_in_c,
    mark_function,
    wal_blockers,
    wal_objects,
    wanted_extension,
)
from pgwarden.maintenance import Job
from pgwarden.spec import FeatureOptions, Spec

_PACKAGE = "pgwarden.features.audit"

STATEMENT_TRIGGERS = {
    "pgwarden_audit_i": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows",
    "pgwarden_audit_u": (
        "AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
    "pgwarden_audit_d": "AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows",
}
ROW_TRIGGER = "pgwarden_audit"
STATEMENT_END_TRIGGER = "pgwarden_audit_s"
"""Row capture (partitioned tables): after each statement, closes its statement id."""
MOVE_TRIGGER = "pgwarden_audit_m"
"""Row capture (partitioned tables): before an UPDATE (or DELETE) statement, marks whether a
DELETE among its rows is half of a row's move to another partition (capture_rows.sql)."""

if TYPE_CHECKING:
    import typer


@dataclass(frozen=True)
class Registrations:
    """What ``warden.audit_tables`` holds when planning."""

    by_oid: dict[int, tuple[int, tuple[str, ...] | None]]
    """Live table oid -> (table_id, key columns chosen at registration)."""
    ids: frozenset[int]
    """Every table_id in use, including those of dropped tables."""
    slots: Slots = field(default_factory=Slots)
    """This database's WAL capture slot, and room for one (``capture = "auto"``)."""


class Audit(Feature):
    name = "audit"
    summary = "every INSERT/UPDATE/DELETE/TRUNCATE recorded by the database: who, what, why"
    options: ClassVar[type[FeatureOptions]] = AuditOptions
    api = AuditAPI
    keeps_history = True

    def commands(self, app: typer.Typer) -> None:
        from pgwarden.features.audit._cli import register  # the CLI loads only when used

        register(app)

    def prepare(self, conn: psycopg.Connection[Any]) -> Registrations:
        """The registrations already in the store (ids in use, keys chosen earlier)."""
        slots = _wal.slots(conn)
        present = conn.execute("select to_regclass('warden.audit_tables') is not null").fetchone()
        if not present or not present[0]:
            return Registrations({}, frozenset(), slots)
        rows = conn.execute(
            "select relid, table_id, key_columns from warden.audit_tables"
        ).fetchall()
        by_oid = {
            int(r[0]): (int(r[1]), tuple(r[2]) if r[2] is not None else None)
            for r in rows
            if r[0] is not None
        }
        return Registrations(by_oid, frozenset(int(r[1]) for r in rows), slots)

    def _table_id(self, table: Table, known: Registrations) -> int:
        # Chosen here and compiled into the capture function: no lookup per statement, and
        # nothing a session could set to file its changes under another table.
        if table.oid in known.by_oid:
            return known.by_oid[table.oid][0]
        taken = known.ids
        return table.oid if table.oid not in taken else max(taken | {table.oid}) + 1

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        assert isinstance(options, AuditOptions)
        # a column another feature adds in this apply (search's vector) may be excluded
        self._check_columns(ctx.with_columns_to_come(table), options)
        known: Registrations = ctx.state.get(self.name) or Registrations({}, frozenset())
        mode, chose = choose_capture(table, options, ctx, known.slots)
        # Everything below sees the capture chosen ("auto" resolved), the registration too.
        options = options.model_copy(update={"capture": mode})
        registered = known.by_oid.get(table.oid, (0, None))[1]
        key, why = choose_key(table, options, registered)
        if options.checkpoint_every is not None and key is None:
            raise FeatureNotApplicable(
                str(table.name),
                self.name,
                "checkpoint_every needs rows identified by a key (a primary key, a unique key "
                "on NOT NULL columns, or key = [...])",
            )
        table_id = self._table_id(table, known)
        function = ObjectRef(
            "function", "warden", owned_name(table.name.schema, table.name.name, suffix="audit")
        )
        hidden = sorted(set(options.exclude) | set(options.redact))
        tracked = self._tracks_renames(ctx)
        if not tracked:
            why += (
                "; column renames reach time travel only at the next apply: the event "
                "trigger that records them at once needs a superuser to create"
            )
        if chose:
            why += f"; {chose}"
        if options.capture == "wal":
            calls, _, how = mark_function(table, options, ctx)
            why += f"; captured from the WAL ({how}; events appear once ingested)"
        found = [registration(table, table_id, key, why, hidden, options)]
        if options.capture == "wal":
            marker = self._function(
                table, function, "capture_wal.sql", "",
                table_id=sql.Literal(table_id), **wal_parts(table, options),
            )  # fmt: skip
            tables = [table, *ctx.partitions_below(table)]
            wal = wal_objects(self.name, table, tables, function, key, calls)
            return [*found, marker, *wal]
        # The plan says, on the function, where its context is numbered and recorded, and
        # what would move it to C.
        in_c, _, how = context_in_c(ctx)
        parts = self._parts(table_id, options, table, key, in_c)
        # A table that is not partitioned: its INSERT, UPDATE and DELETE statements captured
        # in C where the extension has it (the same events), TRUNCATE by the function.
        c_capture, _, c_how = capture_in_c(ctx)
        c_capture = c_capture and not table.is_partitioned
        if not table.is_partitioned:
            how = f"{how}; {c_how}" if how else c_how
        found.append(self._function(table, function, "capture.sql", how, **parts))
        triggers: list[tuple[str, sql.Composable, ObjectRef, tuple[str, ...]]] = []
        # Statement triggers are not cloned to partitions (row triggers are): each partition
        # gets its own, the TRUNCATE one and, with row capture, the end of each statement.
        truncate = sql.SQL("BEFORE TRUNCATE ON {} FOR EACH STATEMENT")
        each: list[tuple[str, sql.SQL, ObjectRef]] = [(TRUNCATE_TRIGGER, truncate, function)]
        if table.is_partitioned:
            rows_fn = ObjectRef(
                "function",
                "warden",
                owned_name(table.name.schema, table.name.name, suffix="audit_rows"),
            )
            found.append(self._function(table, rows_fn, "capture_rows.sql", how, **parts))
            each_row = sql.SQL("AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW")
            triggers.append((ROW_TRIGGER, each_row.format(table.name.ident), rows_fn, ()))
            end = sql.SQL("AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH STATEMENT")
            each.append((STATEMENT_END_TRIGGER, end, rows_fn))
            # Rows move only below the table an UPDATE names; every partition has it all the
            # same, as the event trigger gives a new partition every statement trigger.
            move = sql.SQL("BEFORE UPDATE OR DELETE ON {} FOR EACH STATEMENT")
            each.append((MOVE_TRIGGER, move, rows_fn))
        else:
            target, args = function, tuple[str, ...]()
            if c_capture:
                target, args = C_CAPTURE_FUNCTION, capture_args(table_id, options, table, key)
            for name, events in STATEMENT_TRIGGERS.items():
                each_statement = sql.SQL(events + " FOR EACH STATEMENT")
                triggers.append((name, each_statement.format(table=table.name.ident), target, args))
        triggers += [(name, when.format(table.name.ident), fn, ()) for name, when, fn in each]
        for name, when, calls, with_args in triggers:
            found.append(
                trigger(
                    self.name,
                    table,
                    name,
                    when,
                    calls,
                    description=f"trigger {name} on {table.name}",
                    args=with_args,
                )
            )
        for part in ctx.partitions_below(table):
            for name, when, target in each:
                found.append(
                    trigger(
                        self.name,
                        part,
                        name,
                        when.format(part.name.ident),
                        target,
                        description=f"trigger {name} on partition {part.name}",
                        declared=table,
                    )
                )
        return found

    def database_objects(self, ctx: PlanContext) -> list[DesiredObject]:
        """The event triggers (when a superuser applies, or pgwarden owns them already), and
        extension pgwarden_wal when a table captured from the WAL marks in C, or one captured
        by triggers records its context in C."""
        found = event_triggers(ctx)
        known: Registrations = ctx.state.get(self.name) or Registrations({}, frozenset())
        for name, declared in sorted(ctx.spec.tables.items()):
            options = declared.features.get(self.name)
            table = ctx.catalog.get(name)
            if not isinstance(options, AuditOptions) or table is None:
                continue
            wal = choose_capture(table, options, ctx, known.slots)[0] == "wal"
            if wal:
                needed = mark_function(table, options, ctx)[1]
            else:
                needed = context_in_c(ctx)[1] or capture_in_c(ctx)[1]
            if needed:
                # At 1.2 when trigger capture's statements are captured in C (1.3 when tenancy
                # verifies in C): one of ours made older is updated before the triggers
                # calling the new function.
                found.append(wanted_extension(ctx, self.name))
                break
        return found

    def kinds(self) -> list[Kind]:
        """Its registration row, REPLICA IDENTITY FULL, membership of its publication."""
        return KINDS

    def stream(self) -> Stream:
        """The event store (``migrations/``) and every function and view over it
        (``functions/``): history, time travel, revert, the feed, WAL capture's helpers."""
        return Stream(self.name, _PACKAGE)

    def relation_replaced(
        self, conn: psycopg.Connection[Any], old_oid: int, new: QualifiedName
    ) -> None:
        """The registration follows the table to its new relation (same table id: one
        history), attribute numbers found again by name."""
        relation_replaced(conn, old_oid, new)

    def _parts(
        self,
        table_id: int,
        options: AuditOptions,
        table: Table,
        key: tuple[str, ...] | None,
        in_c: bool,
    ) -> dict[str, sql.Composable]:
        # The context block: the same flag, numbers and row from either (_context_c.sql).
        context = "_context_c.sql" if in_c else "_context.sql"
        record = "_context_record_c.sql" if in_c else "_context_record.sql"
        return {
            "table_id": sql.Literal(table_id),
            "declare": sql.SQL(sql_template(_PACKAGE, "_declare.sql")),
            "context": sql.SQL(sql_template(_PACKAGE, context)),
            "context_record": sql.SQL(sql_template(_PACKAGE, record)),
            **capture_parts(table, options, key),
        }

    def before_apply(self, conn: psycopg.Connection[Any], spec: Spec) -> None:
        """A table captured from the WAL needs the slot before its triggers exist: made
        outside the apply transaction (a slot cannot be made in one that wrote). With
        ``capture = "auto"``, only where the server and role allow it (else triggers)."""
        forced = auto_override()
        if wal_required(spec) or (forced == "wal" and wal_possible(spec)):
            _wal.ensure_slot(conn)
        elif forced == "auto" and wal_possible(spec):
            from pgwarden.catalog import read_server

            if not wal_blockers(read_server(conn), _wal.slots(conn)):
                _wal.ensure_slot(conn)

    def health(self, conn: psycopg.Connection[Any], spec: Spec) -> list[str]:
        """With WAL capture: how much WAL the slot holds back (not yet ingested)."""
        maybe = wal_required(spec) or (wal_possible(spec) and auto_override() != "trigger")
        state = _wal.status(conn) if maybe else None
        if state is None:
            return []
        when = state["ingested_at"]
        last = when.strftime("%Y-%m-%d %H:%M:%S %Z") if when else "never"
        return [
            f"audit WAL capture: slot {state['slot']} holds {state['lag_bytes']:,} bytes of "
            f"WAL not yet ingested (last ingestion: {last}); the worker or "
            "`pgwarden audit ingest --follow` writes the events"
        ]

    def after_apply(self, conn: psycopg.Connection[Any], spec: Spec) -> None:
        """No table captured from the WAL any more (as registered: ``auto`` may have chosen
        triggers): ingest what is left, then drop the slot (it would keep WAL on disk
        forever). A follower's stream is ended first and the rest read here: waiting for it
        could time out, and the slot would go with transactions it had not stored."""
        if _wal.slot_exists(conn) and not _wal.registered_wal(conn):
            _wal.ingest(conn, take_over=True)
            _wal.drop_slot(conn)

    def jobs(self, declared: Sequence[tuple[Table, FeatureOptions]], catalog: Catalog) -> list[Job]:
        """The event store's months made ahead and rescued, archiving (events of every table
        past its own ``archive_after``) and retention (past ``retention``) when any table
        declares them."""
        audited = [(str(t.name), o) for t, o in declared if isinstance(o, AuditOptions)]
        with_archive = [name for name, o in audited if o.archive_after]
        with_retention = [name for name, o in audited if o.retention]
        jobs = store_jobs(with_retention, with_archive)
        # "auto" where the server and role could take the WAL (without a slot, a pass costs
        # one query).
        server = catalog.server
        auto_wal = (
            auto_override() != "trigger" and server.wal_level == "logical" and server.can_replicate
        )
        from_wal = [
            name for name, o in audited if o.capture == "wal" or (o.capture == "auto" and auto_wal)
        ]
        if from_wal:
            jobs.insert(0, _wal.ingest_job(from_wal))
        with_checkpoints = [(name, o) for name, o in audited if o.checkpoint_every is not None]
        if with_checkpoints:
            jobs.append(checkpoint_job(with_checkpoints))
        return jobs

    def _tracks_renames(self, ctx: PlanContext) -> bool:
        """Whether the event trigger recording column renames is (or will be) there: created
        when a superuser applies, kept once pgwarden owns it."""
        return ctx.catalog.server.is_superuser or ctx.owns(EVENT_TRIGGER)

    def _check_columns(self, table: Table, options: AuditOptions) -> None:
        columns = table.column_names
        for option, names in (("exclude", options.exclude), ("redact", options.redact),
                              ("key", options.key or [])):  # fmt: skip
            for name in names:
                if name not in columns:
                    near = closest(name, columns)
                    hint = f" (did you mean {near!r}?)" if near else ""
                    raise FeatureNotApplicable(
                        str(table.name), self.name, f"{option}: no column {name!r}{hint}"
                    )

    def _function(
        self, owner: Table, ref: ObjectRef, template: str, how: str, **parts: sql.Composable
    ) -> DesiredObject:
        body = function_body(sql_template(_PACKAGE, template), **parts)
        # Runs as the store's owner (application roles need no privilege on it), with a
        # fixed search_path (no caller's object can stand in), and never plans the UPDATE
        # pairing as a nested loop (quadratic in rows). Before PostgreSQL 18 a disabled
        # nested loop adds a huge cost to any plan that still needs one, which crosses
        # jit_above_cost: a JIT compile per statement (~120 ms). JIT never pays for a
        # capture query, so it is off.
        attributes = (
            "SECURITY DEFINER SET search_path = pg_catalog, pg_temp "
            "SET enable_nestloop = off SET jit = off"
        )
        if template == "capture_wal.sql":
            # Plans no join: only the search_path (each setting is set and reset per call).
            attributes = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"
        return trigger_function(
            self.name,
            owner,
            ref,
            body,
            description=f"function capturing changes of {owner.name}"
            + (f" ({how})" if how else ""),
            attributes=attributes,
        )


def wal_required(spec: Spec) -> bool:
    """Whether any table of ``spec`` declares ``capture = "wal"``."""
    return _declares(spec, ("wal",))


def wal_possible(spec: Spec) -> bool:
    """Whether any table of ``spec`` may be captured from the WAL (``wal``, or ``auto`` on a
    server and role that allow it)."""
    return _declares(spec, ("wal", "auto"))


def _declares(spec: Spec, captures: tuple[str, ...]) -> bool:
    return any(
        isinstance(o, AuditOptions) and o.capture in captures
        for t in spec.tables.values()
        for o in t.features.values()
    )
