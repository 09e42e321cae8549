"""What a conversion needs to know, and refuses, before it touches anything."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName, owned_name
from pgwarden.catalog import Table, read_catalog
from pgwarden.engine import stored_sql
from pgwarden.errors import FeatureNotApplicable, MaintenanceError, PgwardenError
from pgwarden.features.partition._jobs import _list_name, _now_in, _value
from pgwarden.features.partition._layout import Layout
from pgwarden.features.partition._options import PartitionOptions

MAX_PARTITIONS = 2000


@dataclass
class Facts:
    oid: int = 0
    partitioned: bool = False
    key: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    outgoing: list[tuple[str, str]] = field(default_factory=list)
    """Foreign keys of the table: (name, pg_get_constraintdef)."""
    estimate: int = 0
    notes: list[str] = field(default_factory=list)


def _refuse(table: QualifiedName, reason: str) -> FeatureNotApplicable:
    return FeatureNotApplicable(str(table), "partition", f"cannot convert: {reason}")


def inspect(
    conn: psycopg.Connection[Any],
    table: QualifiedName,
    options: PartitionOptions,
    *,
    converting: bool,
) -> Facts:
    row = conn.execute(
        """select c.oid, c.relkind, c.relispartition, greatest(c.reltuples, 0)::bigint,
                  exists (select 1 from pg_inherits i where i.inhrelid = c.oid
                          or i.inhparent = c.oid)
           from pg_class c where c.oid = to_regclass(%s)""",
        (table.regclass_text,),
    ).fetchone()
    if row is None:
        raise PgwardenError(f"{table}: no such table")
    oid, kind, is_partition, estimate, inherits = row
    if kind == "p" and not converting:
        return Facts(oid=oid, partitioned=True)
    if kind != "r" or is_partition or inherits:
        raise _refuse(table, "only a plain table (not a partition, not in an inheritance tree)")
    if not options.default:
        raise _refuse(
            table,
            "it needs default = true: rows written during the copy may fall outside the "
            "partitions made for it",
        )
    catalog_table = as_table(conn, table)
    if catalog_table is not None:
        from pgwarden.features.partition import Partition

        Partition()._check_column(catalog_table, options)
    facts = Facts(oid=oid, estimate=int(estimate))
    pk = conn.execute(
        """select array_agg(a.attname order by k.ord) from pg_index i
           cross join unnest(i.indkey) with ordinality k(attnum, ord)
           join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
           where i.indrelid = %s and i.indisprimary""",
        (oid,),
    ).fetchone()
    if pk is None or pk[0] is None:
        raise _refuse(table, "it has no primary key (rows are copied in key order and changes "
                             "replayed by key)")  # fmt: skip
    facts.key = list(pk[0])
    unique = conn.execute(
        """select c.relname from pg_index i join pg_class c on c.oid = i.indexrelid
           where i.indrelid = %s and i.indisunique and not exists (
               select 1 from unnest(i.indkey) k(attnum) join pg_attribute a
               on a.attrelid = i.indrelid and a.attnum = k.attnum where a.attname = %s)""",
        (oid, options.column),
    ).fetchall()
    if unique:
        raise _refuse(
            table,
            f"unique index {unique[0][0]} does not include {options.column}: PostgreSQL "
            "requires every unique key of a partitioned table to include the partition key "
            "(so must foreign keys pointing at it)",
        )
    checks: list[tuple[str, str]] = [
        (
            """select conname from pg_constraint where conrelid = %s and confrelid = %s
               and contype = 'f'""",
            "it has a foreign key to itself ({}); drop it, convert, add it back",
        ),
        (
            """select distinct v.oid::regclass::text from pg_depend d
               join pg_rewrite r on r.oid = d.objid join pg_class v on v.oid = r.ev_class
               where d.refobjid = %s and v.oid <> %s""",
            "view {} depends on it (a view is bound to the table it was made on); drop it, "
            "convert, create it again",
        ),
        (
            """select tgname from pg_trigger where tgrelid = %s and tgrelid = %s
               and not tgisinternal
               and (tgtype & 1) = 1 and (tgoldtable is not null or tgnewtable is not null)
               and tgname not like 'pgwarden\\_%%'""",
            "row trigger {} uses transition tables, which partitioned tables do not allow",
        ),
    ]
    for query, why in checks:
        hit = conn.execute(stored_sql(query), (oid, oid)).fetchone()
        if hit:
            raise _refuse(table, why.format(hit[0]))
    facts.columns = [
        r[0]
        for r in conn.execute(
            """select attname from pg_attribute where attrelid = %s and attnum > 0
               and not attisdropped and attgenerated = '' order by attnum""",
            (oid,),
        ).fetchall()
    ]
    facts.outgoing = [
        (r[0], r[1])
        for r in conn.execute(
            """select conname, pg_get_constraintdef(oid) from pg_constraint
               where conrelid = %s and contype = 'f' order by conname""",
            (oid,),
        ).fetchall()
    ]
    for (pub,) in conn.execute(
        "select p.pubname from pg_publication_rel r join pg_publication p on p.oid = r.prpubid"
        " where r.prrelid = %s",
        (oid,),
    ).fetchall():
        facts.notes.append(f"publication {pub}: add the new table to it after the swap")
    if conn.info.server_version < 180000:
        for (child,) in conn.execute(
            """select c.conrelid::regclass::text from pg_constraint c join pg_class k
               on k.oid = c.conrelid where c.confrelid = %s and c.contype = 'f'
               and k.relkind = 'p'""",
            (oid,),
        ).fetchall():
            facts.notes.append(
                f"foreign key of partitioned {child} is checked during the swap (PostgreSQL "
                "< 18 cannot add it NOT VALID and validate it afterwards)"
            )
    return facts


def as_table(conn: psycopg.Connection[Any], table: QualifiedName) -> Table | None:
    return read_catalog(conn).get(table)


def create_shadow_partitions(
    conn: psycopg.Connection[Any],
    table: QualifiedName,
    shadow: QualifiedName,
    opts: PartitionOptions,
    facts: Facts,
) -> list[str]:
    """The partitions the table's rows need (and ``premake`` more), plus the default."""
    column_type = conn.execute(
        """select format_type(atttypid, atttypmod) from pg_attribute
           where attrelid = %s and attname = %s""",
        (facts.oid, opts.column),
    ).fetchone()
    ctype = column_type[0] if column_type else None
    specs: list[tuple[str, sql.Composable]] = []  # (name, FOR VALUES ...)
    if opts.strategy == "list":
        like = Layout(table, facts.oid, "list", opts.column, ctype, ())
        for i, group in enumerate(opts.groups):
            vals = sql.SQL(", ").join(_value(v, ctype) for v in group)
            specs.append(
                (_list_name(like, i, group).name, sql.SQL("FOR VALUES IN ({})").format(vals))
            )
    else:
        step = opts.step
        col = sql.Identifier(opts.column)
        row = conn.execute(
            sql.SQL("SELECT min({c}), max({c}) FROM {t}").format(c=col, t=table.ident)
        ).fetchone()
        low_value, high_value = (row[0], row[1]) if row else (None, None)
        if step.is_time:
            now = _now_in(ctype, dt.datetime.now(dt.UTC))
            low_value, high_value = _dt(low_value) or now, _dt(high_value) or now
            high_value = max(high_value, now)
        else:
            low_value, high_value = low_value or 0, high_value or 0
        low: Any = step.floor(low_value)
        last: Any = step.shift(step.floor(high_value), opts.premake)
        while low <= last:
            high = step.shift(low, 1)
            bound = sql.SQL("FOR VALUES FROM ({}) TO ({})").format(
                _value(low, ctype), _value(high, ctype)
            )
            specs.append((owned_name(table.name, suffix=step.suffix(low)), bound))
            low = high
            if len(specs) > MAX_PARTITIONS:
                raise _refuse(
                    table,
                    f"its rows span more than {MAX_PARTITIONS} partitions of {opts.interval}; "
                    "declare a wider interval",
                )
    from pgwarden.features.partition import default_name

    specs.append((default_name(table).name, sql.SQL("DEFAULT")))
    for name, for_values in specs:
        taken = conn.execute(
            "select to_regclass(%s)", (QualifiedName(table.schema, name).regclass_text,)
        ).fetchone()
        if taken and taken[0] is not None:
            raise MaintenanceError(
                f"{table}: cannot convert: a table named {table.schema}.{name} exists already "
                "(a partition of the converted table will have that name)",
                hint="rename or drop it, then run the conversion again",
            )
        conn.execute(
            sql.SQL("CREATE TABLE {} PARTITION OF {} {}").format(
                QualifiedName(table.schema, name).ident, shadow.ident, for_values
            )
        )
    return [name for name, _ in specs]


def _dt(value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value
