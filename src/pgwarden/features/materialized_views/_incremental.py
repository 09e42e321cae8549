"""``incremental = true``: a declared view kept from audit's change feed instead of recomputed.

Storage: PostgreSQL lets no DML write into a materialized view, so an incremental view is a
table pgwarden owns, ``warden.<schema>_<view>__ivm`` (one row per group, keyed by
``__key``, the group's values as a jsonb array: NULL keys are one group, as in GROUP BY, on
every server version), behind a plain view with the declared name that shows the declared
columns. The table also keeps, per group, ``__rows`` (its row count: the group goes at 0),
``__n<i>`` (non-NULL values of each ``sum``: a sum of no values is NULL) and ``__stale`` (a
``min`` / ``max`` to recompute). ``warden.view_feeds`` holds each view's feed position.

Which views qualify is decided here, with the server's help (``qualify``): the query's
shape (``_shape.py``), then the table is audited with full row images (``truncate =
"rows"``, none of the view's columns excluded or redacted), no volatile function or clock,
``sum`` only over exact types, and every expression reads the row alone (it is prepared
against a row rebuilt from an audit image, as the refresh evaluates it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName, owned_name
from pgwarden.engine import DesiredObject, Kind, Lock, ObjectRef
from pgwarden.features.materialized_views._options import ViewSpec
from pgwarden.features.materialized_views._shape import NotIncremental, Shape, analyze, tokens
from pgwarden.spec import Spec

FEATURE = "materialized_views"
INCREMENTAL_VIEW = Kind(
    "incremental_view",
    63,  # after the materialized views (a view switched to incremental is dropped first)
    """select md5(pg_get_viewdef(c.oid) || coalesce((
                  select string_agg(pg_get_indexdef(i.indexrelid), ';' order by 1)
                    from pg_index i
                   where i.indrelid in (select d.refobjid from pg_depend d
                                          join pg_rewrite r on r.oid = d.objid
                                         where d.classid = 'pg_rewrite'::regclass
                                           and r.ev_class = c.oid and d.refobjid <> c.oid)), ''))
         from pg_class c
        where c.oid = to_regclass(%(regclass)s) and c.relkind = 'v'""",
)
_EXACT_SUMS = {"smallint", "integer", "bigint", "numeric", "interval"}


@dataclass(frozen=True)
class Incremental:
    """A qualifying view, resolved against the database: everything its SQL needs."""

    name: QualifiedName
    shape: Shape
    table: QualifiedName
    timezone: str
    """Expressions are evaluated in this time zone (the view's ``timezone``) by the build and
    by every pass, so a stable function of a timestamptz groups the same way each time."""
    columns: tuple[tuple[str, str], ...] = ()
    """(name, type) of the table's columns the query names, when all are of plain types
    (read from the images one by one); empty: rebuild whole rows."""

    @property
    def backing(self) -> QualifiedName:
        return QualifiedName("warden", owned_name(self.name.schema, self.name.name, suffix="ivm"))

    def key_idents(self) -> list[sql.Identifier]:
        return [sql.Identifier(column) for column, _ in self.shape.keys]

    def key_exprs(self) -> list[sql.Composable]:
        # The user's own expressions, as in the declared query (the plan prepared them).
        return [sql.SQL("({})").format(sql.SQL(expr)) for _, expr in self.shape.keys]

    def sums(self) -> list[int]:
        return [i for i, a in enumerate(self.shape.aggregates) if a.func == "sum"]


def _reason(exc: psycopg.Error) -> str:
    return str(exc.diag.message_primary or exc).strip()


def qualify(
    conn: psycopg.Connection[Any],
    spec: Spec,
    name: QualifiedName,
    view: ViewSpec,
    query: str,
    columns: list[str],
) -> Incremental:
    """``name``'s query as an incremental view, or :class:`NotIncremental` saying why not."""
    from pgwarden.features.audit._options import AuditOptions

    shape = analyze(query, columns)
    if len(set(columns)) != len(columns):
        raise NotIncremental("two of its columns have the same name")
    if any(c.startswith("__") for c in columns):
        raise NotIncremental("a column name starts with __ (the table's own columns do)")
    found = conn.execute(
        "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where c.oid = to_regclass(%s)",
        (shape.table,),
    ).fetchone()
    if found is None:
        raise NotIncremental(f"table {shape.table} not found")
    table = QualifiedName(found[0], found[1])
    declared = spec.tables.get(table)
    options = declared.features.get("audit") if declared else None
    if not isinstance(options, AuditOptions):
        raise NotIncremental(f"{table} is not audited (declare audit on it: its change feed)")
    if options.truncate != "rows":
        raise NotIncremental(f'{table} is audited with truncate = "event" (rows not recorded)')
    words = {t.word for t in tokens(query) if t.kind in ("word", "quoted")}
    hidden = sorted(words & {c.lower() for c in (*options.exclude, *options.redact)})
    if hidden:
        raise NotIncremental(f"it reads {hidden[0]}, which audit excludes or redacts")
    volatile = conn.execute(
        "select min(p.proname) from pg_proc p where p.proname = any(%s) and p.provolatile = 'v'",
        (list(shape.functions),),
    ).fetchone()
    if volatile and volatile[0]:
        raise NotIncremental(f"it calls {volatile[0]}(), a volatile function")
    inc = Incremental(name, shape, table, view.timezone, _plain_columns(conn, table, query))
    try:
        with conn.transaction():  # a savepoint when planning inside a transaction
            conn.execute(
                sql.SQL("SELECT * FROM ({}) q LIMIT 0").format(_image_probe(inc)), prepare=True
            )
    except psycopg.Error as exc:
        raise NotIncremental(f"its expressions do not read the row alone: {_reason(exc)}") from None
    for agg in shape.aggregates:
        if agg.func != "sum" or agg.arg is None:
            continue
        arg_type = _arg_type(conn, inc, agg.arg)
        if arg_type not in _EXACT_SUMS:
            raise NotIncremental(
                f"sum({agg.arg}) is of {arg_type}: only sums of exact types (integers, numeric, "
                "interval) are kept by deltas (a floating-point sum would drift)"
            )
    return inc


def _plain_columns(
    conn: psycopg.Connection[Any], table: QualifiedName, query: str
) -> tuple[tuple[str, str], ...]:
    named = {
        t.text[1:-1].replace('""', '"') if t.kind == "quoted" else t.word for t in tokens(query)
    }
    rows = conn.execute(
        """select a.attname, format_type(a.atttypid, a.atttypmod),
                  t.typcategory = 'A' or t.typtype = 'c' or a.atttypid in ('json'::regtype,
                  'jsonb'::regtype) or (t.typtype = 'd' and bt.typcategory = 'A')
             from pg_attribute a join pg_type t on t.oid = a.atttypid
             left join pg_type bt on bt.oid = t.typbasetype
            where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
            order by a.attnum""",
        (table.regclass_text,),
    ).fetchall()
    used = [(r[0], r[1], r[2]) for r in rows if r[0] in named]
    if not used or any(complex_ for _, _, complex_ in used):
        return ()
    return tuple((n, k) for n, k, _ in used)


def _arg_type(conn: psycopg.Connection[Any], inc: Incremental, arg: str) -> str:
    cur = conn.execute(
        sql.SQL("SELECT {} FROM {} AS {} LIMIT 0").format(
            sql.SQL(arg), inc.table.ident, sql.Identifier(inc.shape.alias)
        ),
        prepare=True,
    )
    oid = cur.description[0].type_code if cur.description else 0
    row = conn.execute("select format_type(%s, null)", (oid,)).fetchone()
    return str(row[0]) if row else ""


def images(inc: Incremental) -> sql.Composed:
    """The rows of the events in ``ev`` (old images signed -1, new ones +1) as rows of the
    table, with ``__sign``: the view's own expressions then read them as they read the table.

    When every column the query names is of a plain type, each is read as
    ``(image->>'col')::type`` (its type's input function, as ``jsonb_populate_record`` uses
    for such values, at a fifth of its cost); otherwise the whole row is rebuilt by
    ``jsonb_populate_record`` (arrays, composites and json are not plain text)."""
    parts = (("-1", "old_row", "'U', 'D'"), ("1", "new_row", "'I', 'U'"))
    where = sql.SQL("FROM ev WHERE NOT ev.seen AND ev.op IN ({})")
    if inc.columns:
        return sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {} AS __sign, {} {}").format(
                sql.SQL(sign),
                sql.SQL(", ").join(
                    sql.SQL("(ev.{}->>{})::{} AS {}").format(
                        sql.Identifier(image),
                        sql.Literal(name),
                        sql.SQL(kind),
                        sql.Identifier(name),
                    )
                    for name, kind in inc.columns
                ),
                where.format(sql.SQL(ops)),
            )
            for sign, image, ops in parts
        )
    # OFFSET 0 keeps one jsonb_populate_record call per image (expanded in place, it ran
    # once per column).
    return sql.SQL("SELECT s.__sign, (s.r).* FROM ({} OFFSET 0) s").format(
        sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {} AS __sign, jsonb_populate_record(NULL::{}, ev.{}) AS r {}").format(
                sql.SQL(sign), inc.table.ident, sql.Identifier(image), where.format(sql.SQL(ops))
            )
            for sign, image, ops in parts
        )
    )


def _image_probe(inc: Incremental) -> sql.Composable:
    shape = inc.shape
    args = [sql.SQL("({})").format(sql.SQL(a.arg)) for a in shape.aggregates if a.arg]
    return sql.SQL(
        "WITH ev AS (SELECT 'I'::\"char\" AS op, '{{}}'::jsonb AS old_row, "
        "'{{}}'::jsonb AS new_row, false AS seen) SELECT {} FROM ({}) AS {}{}"
    ).format(
        sql.SQL(", ").join([*inc.key_exprs(), *args]),
        images(inc),
        sql.Identifier(shape.alias),
        sql.SQL(" WHERE {}").format(sql.SQL(shape.where)) if shape.where else sql.SQL(""),
    )


def _aggregate_sql(func: str, arg: str | None) -> sql.Composable:
    if arg is None:
        return sql.SQL("count(*)")
    return sql.SQL("{}({})").format(sql.SQL(func), sql.SQL(arg))


def table_columns(inc: Incremental) -> list[sql.Identifier]:
    """The backing table's columns, in order."""
    names = ["__key", "__rows", *inc.shape.columns]
    names += [f"__n{i}" for i in inc.sums()] + ["__stale"]
    return [sql.Identifier(n) for n in names]


def build_select(inc: Incremental) -> sql.Composed:
    """The whole view computed from the table (the build, and a full refresh)."""
    shape = inc.shape
    exprs = dict(zip((c for c, _ in shape.keys), inc.key_exprs(), strict=True))
    aggs = {a.name: _aggregate_sql(a.func, a.arg) for a in shape.aggregates}
    outputs = [exprs.get(c) or aggs[c] for c in shape.columns]
    counts = [
        sql.SQL("count({})").format(sql.SQL(shape.aggregates[i].arg or "*")) for i in inc.sums()
    ]
    key = sql.SQL("jsonb_build_array({})").format(sql.SQL(", ").join(inc.key_exprs()))
    values: list[sql.Composable] = [key]
    values += [sql.SQL("count(*)"), *outputs, *counts, sql.SQL("false")]
    return sql.SQL("SELECT {values} FROM {table} AS {alias}{where} GROUP BY {keys}").format(
        values=sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(v, c)
            for v, c in zip(values, table_columns(inc), strict=True)
        ),
        keys=sql.SQL(", ").join(inc.key_exprs()),
        table=inc.table.ident,
        alias=sql.Identifier(shape.alias),
        where=sql.SQL(" WHERE {}").format(sql.SQL(shape.where)) if shape.where else sql.SQL(""),
    )


def populate(inc: Incremental, target: QualifiedName) -> sql.Composed:
    """Fill ``target`` and record the feed position it stands for, in one statement (one
    snapshot): the feed resumes at that snapshot's oldest running transaction, and skips the
    transactions the snapshot already saw (``skip``), whatever order they commit or are
    ingested in."""
    return sql.SQL(
        "WITH feed AS (INSERT INTO warden.view_feeds AS f (view_name, table_name, after_txid, "
        "after_event, skip, built_at) VALUES ({view}, {table}, "
        "pg_snapshot_xmin(pg_current_snapshot()), 0, pg_current_snapshot(), now()) "
        "ON CONFLICT (view_name) DO UPDATE SET table_name = excluded.table_name, "
        "after_txid = excluded.after_txid, after_event = 0, skip = excluded.skip, "
        "built_at = excluded.built_at RETURNING 1) "
        "INSERT INTO {target} ({columns}) {select}"
    ).format(
        view=sql.Literal(str(inc.name)),
        table=sql.Literal(str(inc.table)),
        target=target.ident,
        columns=sql.SQL(", ").join(table_columns(inc)),
        select=build_select(inc),
    )


def _in_zone(inc: Incremental, steps: list[sql.Composable]) -> list[sql.Composable]:
    """``steps`` evaluated in the view's time zone, the caller's restored after."""
    return [
        sql.SQL(
            "SELECT set_config('pgwarden.view_saved_tz', current_setting('TimeZone'), true), "
            "set_config('TimeZone', {}, true)"
        ).format(sql.Literal(inc.timezone)),
        *steps,
        sql.SQL("SELECT set_config('TimeZone', current_setting('pgwarden.view_saved_tz'), true)"),
    ]


def _build(inc: Incremental, view: ViewSpec, target: QualifiedName) -> list[sql.Composable]:
    from pgwarden.features.materialized_views._objects import index_specs, index_statement

    steps: list[sql.Composable] = [
        sql.SQL("CREATE TABLE {} AS {} WITH NO DATA").format(target.ident, build_select(inc)),
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY (__key)").format(
            target.ident, sql.Identifier(f"{target.name[:50]}_pkey")
        ),
        # Groups to drop (no rows left) or to recompute (a min / max removed): found by index.
        sql.SQL("CREATE INDEX {} ON {} (__key) WHERE __rows = 0 OR __stale").format(
            sql.Identifier(f"{target.name[:50]}_todo"), target.ident
        ),
        *(
            index_statement(target, columns, unique=unique, index_of=target)
            for columns, unique in index_specs(view)
        ),
    ]
    return steps


def incremental_object(inc: Incremental, view: ViewSpec) -> DesiredObject:
    """The owned object of one incremental view: its table, indexes, view and feed row."""
    name, backing = inc.name, inc.backing
    beside = QualifiedName("warden", owned_name(name.schema, name.name, suffix="ivm_new"))
    shown = sql.SQL("CREATE VIEW {} AS SELECT {} FROM {}").format(
        name.ident, sql.SQL(", ").join(sql.Identifier(c) for c in inc.shape.columns), backing.ident
    )
    # Writers wait from the build's snapshot to the commit: when this apply also creates the
    # table's audit triggers (after this, database-wide objects go first), no change can
    # fall between the snapshot and the capture.
    hold = sql.SQL("LOCK TABLE {} IN SHARE MODE").format(inc.table.ident)
    built = _in_zone(inc, [*_build(inc, view, backing), populate(inc, backing)])
    # The plan creates only when the view is gone: a table left behind (the view dropped by
    # hand) is pgwarden's own, built again.
    leftover = sql.SQL("DROP TABLE IF EXISTS {}").format(backing.ident)
    create: list[sql.Composable] = [hold, leftover, *built, shown]
    renames = _renames(inc, view, beside, backing)
    swap: list[sql.Composable] = [
        sql.SQL("DROP TABLE IF EXISTS {}").format(beside.ident),
        *_in_zone(inc, [*_build(inc, view, beside), populate(inc, beside)]),
        sql.SQL("DROP VIEW IF EXISTS {}").format(name.ident),
        sql.SQL("DROP MATERIALIZED VIEW IF EXISTS {}").format(name.ident),
        sql.SQL("DROP TABLE IF EXISTS {}").format(backing.ident),
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(beside.ident, sql.Identifier(backing.name)),
        *renames,
        shown,
    ]
    drop = [
        sql.SQL("DROP VIEW IF EXISTS {}").format(name.ident),
        sql.SQL("DROP TABLE IF EXISTS {}").format(backing.ident),
        sql.SQL("DELETE FROM warden.view_feeds WHERE view_name = {}").format(
            sql.Literal(str(name))
        ),
    ]
    return DesiredObject(
        ref=ObjectRef(INCREMENTAL_VIEW.name, name.schema, name.name),
        feature=FEATURE,
        table=None,
        create=sql.SQL(";\n").join(create),
        drop=sql.SQL(";\n").join(drop),
        alter=sql.SQL(";\n").join(swap),
        description=(
            f"incremental view {name} (table {backing} kept from the change feed of "
            f"{inc.table}: each refresh applies only the changes since the last; built "
            f"under SHARE on {inc.table})"
        ),
        lock=Lock("ACCESS EXCLUSIVE", name),
        destructive=False,
    )


def _renames(
    inc: Incremental, view: ViewSpec, beside: QualifiedName, backing: QualifiedName
) -> list[sql.Composable]:
    from pgwarden.features.materialized_views._objects import index_name, index_specs

    pairs = [
        (f"{beside.name[:50]}_pkey", f"{backing.name[:50]}_pkey"),
        (f"{beside.name[:50]}_todo", f"{backing.name[:50]}_todo"),
    ]
    pairs += [
        (index_name(beside, c, unique=u), index_name(backing, c, unique=u))
        for c, u in index_specs(view)
    ]
    return [
        sql.SQL("ALTER INDEX {} RENAME TO {}").format(
            sql.Identifier("warden", old), sql.Identifier(new)
        )
        for old, new in pairs
    ]
