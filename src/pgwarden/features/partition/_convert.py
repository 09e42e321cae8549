"""Converting a plain table to a partitioned one while it stays writable.

1. A shadow partitioned table ``<table>__pgw_new`` is made like the table (columns, defaults,
   constraints, identity, indexes, outgoing foreign keys), with the partitions its rows need
   and a default partition; a trigger on the table logs the key of every row changed from
   then on (``warden.<...>__convert_log``); TRUNCATE is refused meanwhile.
2. Rows are copied in key order, a batch per transaction, each recording the last key copied
   (``warden.partition_conversions``): a killed run resumes after it, copying nothing twice.
3. Logged keys are replayed (delete from the shadow, copy the row's current version) until
   few are left. Count and checksum of every row not in the log are compared in one
   snapshot of both tables.
4. The swap (``_swap.py``), one short transaction under ``lock_timeout`` with retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName, owned_name
from pgwarden.engine import ensure_streams, stored_sql
from pgwarden.errors import PgwardenError
from pgwarden.features.partition import _checks
from pgwarden.features.partition._create import carry, locked
from pgwarden.features.partition._layout import Layout
from pgwarden.features.partition._options import PartitionOptions
from pgwarden.features.partition._replay import catch_up, verify
from pgwarden.spec import Spec

if TYPE_CHECKING:
    from pgwarden.features import Feature

ConvertProgress = Callable[[str, int, int | None], None]


def _quiet(step: str, done: int, total: int | None) -> None:
    return None


@dataclass
class Target:
    """One conversion: the table, its shadow, its change log, and the key."""

    table: QualifiedName
    oid: int
    options: PartitionOptions
    key: list[str]
    columns: list[str]
    """Columns copied (generated ones are computed by the shadow)."""

    @property
    def shadow(self) -> QualifiedName:
        return QualifiedName(self.table.schema, owned_name(self.table.name, suffix="pgw_new"))

    @property
    def log(self) -> QualifiedName:
        return QualifiedName(
            "warden", owned_name(self.table.schema, self.table.name, suffix="convert_log")
        )

    @property
    def function(self) -> QualifiedName:
        return QualifiedName(
            "warden", owned_name(self.table.schema, self.table.name, suffix="convert")
        )

    def cols(self, alias: str | None = None) -> sql.Composable:
        return sql.SQL(", ").join(_ident(alias, c) for c in self.columns)

    def keys(self, alias: str | None = None) -> sql.Composable:
        return sql.SQL(", ").join(_ident(alias, c) for c in self.key)

    def key_json(self, alias: str) -> sql.Composable:
        pairs = [sql.SQL("{}, {}").format(sql.Literal(c), _ident(alias, c)) for c in self.key]
        return sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs))

    def typed(self, value: sql.Composable) -> sql.Composable:
        """The key columns of a jsonb key object, typed as the table's columns."""
        return sql.SQL("SELECT {} FROM jsonb_populate_record(NULL::{}, {}) r").format(
            self.keys("r"), self.table.ident, value
        )


def _ident(alias: str | None, column: str) -> sql.Composable:
    return sql.Identifier(alias, column) if alias else sql.Identifier(column)


@dataclass
class ConversionResult:
    table: QualifiedName
    steps: list[str]
    dry_run: bool = False
    already: bool = False
    resumed: bool = False
    copied: int = 0
    replayed: int = 0
    rows: int = 0
    partitions: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.dry_run:
            return (
                [f"Converting {self.table} would:"]
                + [f"  {i}. {s}" for i, s in enumerate(self.steps, 1)]
                + [f"  note: {n}" for n in self.notes]
            )
        if self.already:
            return [f"{self.table} is partitioned already.", *self.notes]
        rate = f", {self.copied / self.seconds:,.0f} rows/s" if self.seconds > 0 else ""
        return [
            f"Converted {self.table}: {self.rows:,} rows verified (count and checksum), "
            f"{self.copied:,} copied, {self.replayed:,} changes replayed, "
            f"{self.partitions} partitions{' (resumed)' if self.resumed else ''} "
            f"in {self.seconds:.1f}s{rate}.",
            *[f"note: {n}" for n in self.notes],
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "table": str(self.table),
            "steps": self.steps,
            "dry_run": self.dry_run,
            "already_partitioned": self.already,
            "resumed": self.resumed,
            "copied": self.copied,
            "replayed": self.replayed,
            "rows": self.rows,
            "partitions": self.partitions,
            "seconds": round(self.seconds, 3),
            "notes": self.notes,
        }


def convert(
    conn: psycopg.Connection[Any],
    spec: Spec,
    table: QualifiedName,
    *,
    features: Mapping[str, Feature],
    batch: int = 10_000,
    progress: ConvertProgress | None = None,
    dry_run: bool = False,
) -> ConversionResult:
    """Convert ``table`` as its ``partition`` declaration says (see the module's doc).
    ``features``: the features in use (the swap rebuilds theirs on the new table)."""
    from pgwarden.features.partition import conversion_steps
    from pgwarden.features.partition._swap import swap, validate_foreign_keys

    progress = progress or _quiet
    started = time.perf_counter()
    table_spec = spec.tables.get(table)
    options = table_spec.features.get("partition") if table_spec else None
    if not isinstance(options, PartitionOptions):
        raise PgwardenError(
            f'{spec.file}: [tables."{table}"] declares no partition: declare '
            "partition = { column = ..., interval = ... } for it first"
        )
    state = _state(conn, table)
    facts = _checks.inspect(conn, table, options, converting=state is not None)
    result = ConversionResult(table, [], dry_run=dry_run, notes=facts.notes)
    if facts.partitioned and state is None:
        result.already = True
        if not dry_run:
            validate_foreign_keys(conn, table, spec, progress)
        return result
    target = Target(table, facts.oid, options, facts.key, facts.columns)
    catalog_table = _checks.as_table(conn, table)
    result.steps = conversion_steps(catalog_table, options) if catalog_table else []
    if dry_run:
        return result
    ensure_streams(conn, spec, features, ["partition", *spec.tables[table].features])
    lock_ms, retries = spec.database.lock_timeout.milliseconds, spec.database.retries
    if state is None:
        progress("create shadow table and change log", 0, None)
        result.partitions = locked(
            conn,
            lock_timeout_ms=lock_ms,
            retries=retries,
            what=f"prepare the conversion of {table}",
            work=lambda: _setup(conn, target, facts),
        )
    else:
        result.resumed = True
    result.copied = _copy(conn, target, batch, progress, facts.estimate)
    result.replayed = catch_up(conn, target, batch, progress)
    result.rows = verify(conn, target)
    progress("swap", 0, None)
    result.replayed += swap(conn, target, spec, features, lock_timeout_ms=lock_ms, retries=retries)
    validate_foreign_keys(conn, table, spec, progress)
    if not result.partitions:
        row = conn.execute(
            "select count(*) from pg_inherits where inhparent = to_regclass(%s)",
            (table.regclass_text,),
        ).fetchone()
        result.partitions = int(row[0]) if row else 0
    result.seconds = time.perf_counter() - started
    return result


def _state(conn: psycopg.Connection[Any], table: QualifiedName) -> dict[str, Any] | None:
    present = conn.execute(
        "select to_regclass('warden.partition_conversions') is not null"
    ).fetchone()
    if not present or not present[0]:
        return None
    row = conn.execute(
        """select last_key, copied, state from warden.partition_conversions
           where table_schema = %s and table_name = %s""",
        (table.schema, table.name),
    ).fetchone()
    return None if row is None else {"last_key": row[0], "copied": row[1], "state": row[2]}


def _setup(conn: psycopg.Connection[Any], target: Target, facts: _checks.Facts) -> int:
    """Shadow table, its partitions, outgoing foreign keys, change log and trigger, state
    row: one transaction (all or nothing)."""
    old, shadow, opts = target.table.ident, target.shadow.ident, target.options
    strategy = sql.SQL("RANGE" if opts.strategy == "range" else "LIST")
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED"
            " INCLUDING IDENTITY INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS"
            " INCLUDING STATISTICS) PARTITION BY {} ({})"
        ).format(shadow, old, strategy, sql.Identifier(opts.column))
    )
    made = _checks.create_shadow_partitions(conn, target.table, target.shadow, opts, facts)
    # Outgoing foreign keys now, on the empty table: validated instantly, then enforced
    # row by row as rows are copied (a partitioned table cannot take NOT VALID ones < 18).
    for name, definition in facts.outgoing:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(shadow, sql.Identifier(name))
            + stored_sql(definition)  # pg_get_constraintdef text
        )
    parent_like = Layout(target.table, target.oid, opts.strategy, opts.column, None, ())
    children = [QualifiedName(target.table.schema, n) for n in made]
    carry(conn, parent_like, children)
    log = target.log.ident
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " key jsonb NOT NULL)"
        ).format(log)
    )
    body = sql.SQL(
        "begin\n"
        "  if tg_op = 'TRUNCATE' then\n"
        "    raise exception 'pgwarden is converting this table to a partitioned one: "
        "TRUNCATE is refused until it is done';\n"
        "  end if;\n"
        "  if tg_op <> 'INSERT' then insert into {log} (key) values ({old}); end if;\n"
        "  if tg_op <> 'DELETE' then insert into {log} (key) values ({new}); end if;\n"
        "  return null;\n"
        "end"
    ).format(log=log, old=target.key_json("old"), new=target.key_json("new"))
    fn = target.function.ident
    conn.execute(
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER"
            " SET search_path = pg_catalog, pg_temp AS {}"
        ).format(fn, sql.Literal(body.as_string(conn)))
    )
    conn.execute(
        sql.SQL(
            "CREATE TRIGGER pgwarden_convert AFTER INSERT OR UPDATE OR DELETE ON {} "
            "FOR EACH ROW EXECUTE FUNCTION {}()"
        ).format(old, fn)
    )
    conn.execute(
        sql.SQL(
            "CREATE TRIGGER pgwarden_convert_t BEFORE TRUNCATE ON {} "
            "FOR EACH STATEMENT EXECUTE FUNCTION {}()"
        ).format(old, fn)
    )
    conn.execute(
        """insert into warden.partition_conversions (relid, table_schema, table_name,
               shadow_name, log_name, key_columns, state)
           values (%s, %s, %s, %s, %s, %s, 'copying')""",
        (target.oid, target.table.schema, target.table.name, target.shadow.name,
         target.log.name, target.key),
    )  # fmt: skip
    return len(made)


def _copy(
    conn: psycopg.Connection[Any],
    target: Target,
    batch: int,
    progress: ConvertProgress,
    estimate: int,
) -> int:
    """Copy rows after the last key copied, ``batch`` per transaction, each recording its
    last key in the same transaction (so a kill loses or repeats nothing)."""
    copied = 0
    state = _state(conn, target.table) or {}
    if state.get("state") == "catching_up":
        # The copy finished before a crash, and replay may have put rows with keys after
        # the last one copied in the shadow already: those are the log's to bring over.
        return 0
    done = int(state.get("copied") or 0)
    last = state.get("last_key")
    base = sql.SQL("SELECT {cols} FROM {old}").format(cols=target.cols(), old=target.table.ident)
    step = "copy rows"
    progress(step, done, estimate or None)
    while True:
        where = (
            sql.SQL(" WHERE ({}) > ({})").format(
                target.keys(), target.typed(sql.Literal(psycopg.types.json.Jsonb(last)))
            )
            if last is not None
            else sql.SQL("")
        )
        statement = sql.SQL(
            "WITH batch AS ({base}{where} ORDER BY {keys} LIMIT {n}), "
            "ins AS (INSERT INTO {shadow} ({cols}) OVERRIDING SYSTEM VALUE "
            "SELECT {cols} FROM batch RETURNING 1) "
            "SELECT (SELECT count(*) FROM ins), "
            "(SELECT {last} FROM batch b ORDER BY {bkeys} LIMIT 1)"
        ).format(
            base=base,
            where=where,
            keys=target.keys(),
            n=sql.Literal(batch),
            shadow=target.shadow.ident,
            cols=target.cols(),
            last=target.key_json("b"),
            bkeys=sql.SQL(", ").join(
                sql.SQL("{} DESC").format(sql.Identifier("b", c)) for c in target.key
            ),
        )
        with conn.transaction():
            row = conn.execute(statement).fetchone()
            count, new_last = (int(row[0]), row[1]) if row else (0, None)
            if count == 0:
                break
            conn.execute(
                """update warden.partition_conversions set last_key = %s,
                       copied = copied + %s, updated_at = now() where relid = %s""",
                (psycopg.types.json.Jsonb(new_last), count, target.oid),
            )
        last = new_last
        copied += count
        progress(step, done + copied, max(estimate, done + copied) or None)
    with conn.transaction():
        conn.execute(
            "update warden.partition_conversions set state = 'catching_up' where relid = %s",
            (target.oid,),
        )
    return copied
