"""The feature contract, checked on a real database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from pgwarden.engine import read_ledger
from pgwarden.features import Feature
from pgwarden.spec import parse_spec
from pgwarden.warden import Warden


@dataclass(frozen=True)
class ContractCase:
    """One feature's opt-in to the contract suite: the tables it needs and a declaration."""

    feature: str
    setup: str
    """SQL that creates the tables (and rows) the declaration names."""
    declaration: str
    """``pgwarden.toml`` text declaring ``feature`` (and what it requires) on those tables."""


# Everything outside pgwarden's schemas (warden, warden_wal) that a feature may add to a
# user's database, plus the database-wide objects (event triggers, extensions, publications).
# A feature's removal must give back exactly this.
_SNAPSHOT = """
select 'relation', format('%I.%I', n.nspname, c.relname),
       c.relkind::text || ' rls=' || c.relrowsecurity || ' force=' || c.relforcerowsecurity
       || ' replident=' || c.relreplident::text
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where n.nspname not in ('pg_catalog', 'information_schema', 'warden', 'warden_wal')
   and n.nspname not like 'pg_toast%%' and n.nspname not like 'pg_temp%%'
union all
select 'column', format('%I.%I.%I', n.nspname, c.relname, a.attname),
       format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
       || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
  from pg_attribute a join pg_class c on c.oid = a.attrelid
  join pg_namespace n on n.oid = c.relnamespace
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
 where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm', 'f')
   and n.nspname not in ('pg_catalog', 'information_schema', 'warden', 'warden_wal')
union all
select 'constraint', format('%I.%I', co.conrelid::regclass, co.conname),
       pg_get_constraintdef(co.oid)
  from pg_constraint co join pg_namespace n on n.oid = co.connamespace
 where n.nspname not in ('pg_catalog', 'information_schema', 'warden', 'warden_wal')
union all
select 'index', format('%I.%I', n.nspname, c.relname), pg_get_indexdef(c.oid)
  from pg_index i join pg_class c on c.oid = i.indexrelid
  join pg_namespace n on n.oid = c.relnamespace
 where n.nspname not in ('pg_catalog', 'information_schema', 'warden', 'warden_wal')
   and n.nspname not like 'pg_toast%%'
union all
select 'trigger', format('%s.%I', t.tgrelid::regclass, t.tgname),
       pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
  from pg_trigger t where not t.tgisinternal
union all
select 'policy', format('%s.%I', p.polrelid::regclass, p.polname),
       coalesce(pg_get_expr(p.polqual, p.polrelid), '')
  from pg_policy p
union all
select 'function', p.oid::regprocedure::text, md5(pg_get_functiondef(p.oid))
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
 where n.nspname not in ('pg_catalog', 'information_schema', 'warden', 'warden_wal')
   and p.prokind = 'f'
union all
select 'event trigger', e.evtname, e.evtevent from pg_event_trigger e
union all
select 'extension', x.extname, x.extversion from pg_extension x
union all
select 'publication table', p.pubname, r.prrelid::regclass::text
  from pg_publication_rel r join pg_publication p on p.oid = r.prpubid
order by 1, 2
"""


def schema_snapshot(conn: psycopg.Connection[Any]) -> list[tuple[str, str, str]]:
    """What a feature's removal must leave as it found it (outside pgwarden's own schema,
    whose state tables outlive a feature by design), as sorted (kind, name, definition)."""
    return [(str(r[0]), str(r[1]), str(r[2])) for r in conn.execute(_SNAPSHOT).fetchall()]


def check_feature_contract(
    url: str, case: ContractCase, *, features: Mapping[str, Feature] | None = None
) -> None:
    """Check ``case`` against the database at ``url`` (empty but for ``case.setup``), and
    raise ``AssertionError`` saying which step broke the contract:

    1. apply builds the declaration, and a second plan is empty;
    2. for each kind of object the feature owns, one object dropped by hand shows in the
       plan as a repair ("dropped outside pgwarden"), apply repairs it, the plan is empty;
    3. an empty declaration removes everything pgwarden built for tables (what stays in the
       ledger is database-wide, in pgwarden's own schemas: the bodies of streams whose state
       is kept) and the schema outside them is exactly as before the first apply.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(case.setup.encode())
        before = schema_snapshot(conn)

        def warden(text: str) -> Warden:
            return Warden(url, spec=parse_spec(text, file="pgwarden.toml"), features=features)

        with warden(case.declaration) as declared:
            applied = declared.apply()
            built = [c for c in applied.applied if c.feature == case.feature]
            assert built, f"{case.feature}: apply built nothing for the feature"
            again = declared.plan()
            assert again.empty, f"{case.feature}: a second plan is not empty: {again.changes}"

            owned = [o for o in read_ledger(conn).values() if o.feature == case.feature]
            # The first object of each kind (by key): drift of every kind is exercised.
            one_per_kind = {o.ref.kind: o for o in sorted(owned, key=lambda o: o.ref.key)[::-1]}
            for kind, victim in sorted(one_per_kind.items()):
                key = victim.ref.key
                _drop_by_hand(conn, victim.drop_sql)
                plan = declared.plan()
                repairs = [c for c in plan.changes if c.ref is not None and c.ref.key == key]
                assert repairs and repairs[0].action == "repair", (
                    f"{case.feature}: {key} dropped by hand is not planned as a repair "
                    f"({[(c.action, str(c.ref)) for c in plan.changes]})"
                )
                declared.apply()
                assert declared.plan().empty, f"{case.feature}: {kind} {key} not repaired"

        with warden("") as removed:
            removed.apply()
            assert removed.plan().empty, f"{case.feature}: removal left a plan"
        # What may stay: the bodies of the streams whose state stays (the engine's, and a
        # store's functions while its data is kept), all database-wide and in pgwarden's
        # schemas. Nothing that serves a table, nothing anywhere else.
        left = [
            o.ref.key
            for o in read_ledger(conn).values()
            if o.table is not None or o.ref.schema not in ("warden", "warden_wal")
        ]
        assert not left, f"{case.feature}: removal left owned objects {left}"
        after = schema_snapshot(conn)
        missing = sorted(set(before) - set(after))
        extra = sorted(set(after) - set(before))
        assert not missing and not extra, (
            f"{case.feature}: removal did not give the schema back: "
            f"gone {missing[:5]}, left {extra[:5]}"
        )


def _drop_by_hand(conn: psycopg.Connection[Any], drop_sql: str) -> None:
    # The ledger's own SQL, composed by pgwarden when it built the object. An object others
    # depend on (a function its triggers call) goes with them, as a careless DBA's
    # DROP ... CASCADE would take them: each must then show as drift too.
    try:
        conn.execute(drop_sql.encode())
    except psycopg.errors.DependentObjectsStillExist:
        if drop_sql.startswith("DROP ROLE IF EXISTS "):
            # A role holding privileges: DROP OWNED BY takes them (it owns nothing here).
            owned = drop_sql.replace("DROP ROLE IF EXISTS ", "DROP OWNED BY ", 1)
            conn.execute(f"{owned}; {drop_sql}".encode())
            return
        conn.execute((drop_sql.removesuffix(" RESTRICT") + " CASCADE").encode())
