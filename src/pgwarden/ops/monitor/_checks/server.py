"""Sequences and integer keys near exhaustion; transaction-id and multixact wraparound."""

from __future__ import annotations

from collections.abc import Iterator

from pgwarden.ops.monitor._checks._common import USER_NS, q
from pgwarden.ops.monitor._engine import Ctx, check
from pgwarden.ops.monitor._model import Finding, Fix, Severity

_XID_LIMIT = 2**31  # wraparound: the server stops assigning ids ~3 million before this


def _level(pct: float, warn: float) -> Severity | None:
    if pct >= min(100.0, warn + (100 - warn) / 2):
        return Severity.CRITICAL
    return Severity.WARNING if pct >= warn else None


@check(
    "sequence.exhaustion",
    "Sequences near their maximum",
    "pg_sequences (last_value needs USAGE or SELECT on the sequence)",
    "sequence_pct (75 %) warning, half-way to 100 % critical",
    fixable=True,
)
def _sequences(ctx: Ctx) -> Iterator[Finding]:
    rows = ctx.rows(
        f"""
        select s.schemaname as schema, s.sequencename as name, s.last_value, s.max_value,
               s.min_value, s.increment_by, s.cycle, s.data_type::text as data_type,
               has_sequence_privilege(c.oid, 'select,usage') as visible
          from pg_sequences s
          join pg_namespace n on n.nspname = s.schemaname
          join pg_class c on c.relnamespace = n.oid and c.relname = s.sequencename
         where {USER_NS}
        """
    )
    hidden = 0
    for r in rows:
        if not r["visible"]:
            hidden += 1
            continue
        if r["last_value"] is None or r["cycle"]:
            continue
        if r["increment_by"] > 0:
            used = (r["last_value"] - r["min_value"]) / max(1, r["max_value"] - r["min_value"])
        else:
            used = (r["max_value"] - r["last_value"]) / max(1, r["max_value"] - r["min_value"])
        pct = 100.0 * used
        level = _level(pct, ctx.opts.sequence_pct)
        if level is None:
            continue
        name = q(r["schema"], r["name"])
        fix = None
        if r["data_type"] != "bigint":
            bound = "NO MAXVALUE" if r["increment_by"] > 0 else "NO MINVALUE"
            fix = Fix(
                (f"ALTER SEQUENCE {name} AS bigint {bound}",),
                "SHARE ROW EXCLUSIVE",
                True,
                "widen the sequence (widen its columns too: integer.key_exhaustion)",
            )
        yield Finding(
            "sequence.exhaustion",
            level,
            name,
            {"used_pct": round(pct, 2), "last_value": r["last_value"], "max_value": r["max_value"]},
            f"{pct:.1f} % of its {r['data_type']} range is used: widen it before inserts fail",
            fix,
        )
    if hidden:
        ctx.note("sequence.exhaustion", f"{hidden} sequence(s) not visible to this role")


@check(
    "integer.key_exhaustion",
    "integer / smallint columns fed by a sequence that will outgrow them",
    "pg_depend (column defaults and identities), pg_sequences",
    "sequence_pct (75 %) of the column type's range",
)
def _int_keys(ctx: Ctx) -> Iterator[Finding]:
    rows = ctx.rows(
        f"""
        select n.nspname as schema, t.relname as table_name, a.attname as column_name,
               format_type(a.atttypid, null) as type, s.last_value,
               case a.atttypid when 'int2'::regtype then 32767 else 2147483647 end as limit
          from pg_depend d
          join pg_class sc on sc.oid = d.objid and sc.relkind = 'S'
          join pg_class t on t.oid = d.refobjid
          join pg_namespace n on n.oid = t.relnamespace
          join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
          join pg_namespace sn on sn.oid = sc.relnamespace
          join pg_sequences s on s.schemaname = sn.nspname and s.sequencename = sc.relname
         where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass
           and d.deptype in ('a', 'i') and a.atttypid in ('int2'::regtype, 'int4'::regtype)
           and {USER_NS}
        """
    )
    for r in rows:
        if r["last_value"] is None:
            continue
        pct = 100.0 * r["last_value"] / r["limit"]
        level = _level(pct, ctx.opts.sequence_pct)
        if level is None:
            continue
        yield Finding(
            "integer.key_exhaustion",
            level,
            f"{q(r['schema'], r['table_name'])}.{q(r['column_name'])}",
            {"used_pct": round(pct, 2), "last_value": r["last_value"], "limit": r["limit"]},
            f"the {r['type']} column will overflow at {r['limit']:,}: migrate it to bigint "
            "(a rewrite: plan it with a new column and a backfill)",
        )


@check(
    "xid.wraparound",
    "Transaction-id age of each database",
    "pg_database.datfrozenxid",
    "wraparound_pct (40 %) of 2^31",
)
def _xid(ctx: Ctx) -> Iterator[Finding]:
    for r in ctx.rows("select datname, age(datfrozenxid)::int8 as age from pg_database"):
        pct = 100.0 * r["age"] / _XID_LIMIT
        level = _level(pct, ctx.opts.wraparound_pct)
        if level is not None:
            yield Finding(
                "xid.wraparound",
                level,
                f"database {r['datname']}",
                {"age": r["age"], "used_pct": round(pct, 2)},
                "freeze it: VACUUM (FREEZE) its oldest tables (see xid.table_age)",
            )


@check(
    "multixact.wraparound",
    "Multixact-id age of each database",
    "pg_database.datminmxid",
    "wraparound_pct (40 %) of 2^31",
)
def _mxid(ctx: Ctx) -> Iterator[Finding]:
    for r in ctx.rows("select datname, mxid_age(datminmxid)::int8 as age from pg_database"):
        pct = 100.0 * r["age"] / _XID_LIMIT
        level = _level(pct, ctx.opts.wraparound_pct)
        if level is not None:
            yield Finding(
                "multixact.wraparound",
                level,
                f"database {r['datname']}",
                {"age": r["age"], "used_pct": round(pct, 2)},
                "vacuum its tables with many row locks (FOR SHARE / foreign keys)",
            )


@check(
    "xid.table_age",
    "Tables past autovacuum_freeze_max_age (anti-wraparound vacuum not keeping up)",
    "pg_class.relfrozenxid, autovacuum_freeze_max_age",
    "1.25 x autovacuum_freeze_max_age",
    fixable=True,
)
def _table_age(ctx: Ctx) -> Iterator[Finding]:
    limit = int(ctx.setting("autovacuum_freeze_max_age"))
    rows = ctx.rows(
        f"""
        select n.nspname as schema, c.relname as name, age(c.relfrozenxid)::int8 as age
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.relkind in ('r', 'm', 't') and age(c.relfrozenxid) > %s and {USER_NS}
        """,
        (int(limit * 1.25),),
    )
    for r in rows:
        name = q(r["schema"], r["name"])
        yield Finding(
            "xid.table_age",
            Severity.WARNING,
            name,
            {"age": r["age"], "freeze_max_age": limit},
            "its anti-wraparound vacuum is overdue: freeze it now",
            Fix(
                (f"VACUUM (FREEZE, ANALYZE) {name}",),
                "SHARE UPDATE EXCLUSIVE",
                False,
                "freeze the table",
            ),
        )


@check(
    "xid.horizon",
    "Something holding back the xmin horizon (vacuum cannot remove dead rows)",
    "pg_stat_activity.backend_xmin, pg_prepared_xacts, pg_replication_slots.xmin",
    "older than long_running (5 min), or horizon_xids (10 M) transactions behind",
)
def _horizon(ctx: Ctx) -> Iterator[Finding]:
    limit = ctx.opts.long_running.seconds
    rows = ctx.rows(
        """
        select 'prepared transaction ' || gid as what,
               extract(epoch from now() - prepared)::float8 as seconds,
               age(transaction)::int8 as xid_age
          from pg_prepared_xacts
        union all
        select 'replication slot ' || slot_name, null,
               greatest(age(xmin), age(catalog_xmin))::int8
          from pg_replication_slots where xmin is not null or catalog_xmin is not null
        """
    )
    for r in rows:
        old = (r["seconds"] or 0) > limit or (r["xid_age"] or 0) >= ctx.opts.horizon_xids
        if old:
            yield Finding(
                "xid.horizon",
                Severity.WARNING,
                r["what"],
                {"xid_age": r["xid_age"], "seconds": round(r["seconds"] or 0)},
                "holds back vacuum everywhere: COMMIT PREPARED / ROLLBACK PREPARED it, or "
                "drop the slot",
            )
