"""The end of a conversion: one transaction under ``lock_timeout`` (retried as a whole).

Locks, in this order: the table (ACCESS EXCLUSIVE: readers and writers wait from here to
commit), the shadow, the tables whose foreign keys point at the table (SHARE ROW EXCLUSIVE,
by name). Then: the last logged changes are replayed and checked; incoming foreign keys
are dropped; sequences move to the shadow; the table is dropped and the shadow takes its
name, its indexes' names, its triggers, policies, grants and comment; pgwarden's features
are rebuilt on it (in the same transaction, so no change goes unaudited). Incoming foreign
keys come back NOT VALID and are validated after the commit (SHARE UPDATE EXCLUSIVE: no
writer waits). The work under the lock is proportional to the changes since the last
catch-up, not to the table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.engine import ObjectRef, apply_scoped, relation_replaced, stored_sql
from pgwarden.errors import MaintenanceError
from pgwarden.features.partition._create import carry, locked
from pgwarden.features.partition._layout import Layout
from pgwarden.spec import Spec

if TYPE_CHECKING:
    from pgwarden.features import Feature
    from pgwarden.features.partition._convert import ConvertProgress, Target

_SIGNATURE = """
    select c.relname, i.indisunique, i.indisprimary, am.amname,
           (select array_agg(coalesce(a.attname, '') order by k.ord)::text
              from unnest(i.indkey) with ordinality k(attnum, ord)
              left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum),
           coalesce(pg_get_expr(i.indexprs, i.indrelid), ''),
           coalesce(pg_get_expr(i.indpred, i.indrelid), ''), i.indclass::text, i.indoption::text
    from pg_index i join pg_class c on c.oid = i.indexrelid join pg_am am on am.oid = c.relam
    where i.indrelid = to_regclass(%s) order by c.relname"""
_CMD = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}


def _index_names(
    conn: psycopg.Connection[Any], old: QualifiedName, new: QualifiedName
) -> list[tuple[str, str]]:
    """(shadow index, table index) pairs with the same definition."""
    by_signature: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for row in conn.execute(_SIGNATURE, (old.regclass_text,)).fetchall():
        by_signature[tuple(row[1:])].append(row[0])
    pairs = []
    for row in conn.execute(_SIGNATURE, (new.regclass_text,)).fetchall():
        names = by_signature.get(tuple(row[1:]))
        if names:
            pairs.append((row[0], names.pop(0)))
    return pairs


def swap(
    conn: psycopg.Connection[Any],
    target: Target,
    spec: Spec,
    features: Mapping[str, Feature],
    *,
    lock_timeout_ms: int,
    retries: int,
) -> int:
    """Swap the shadow in; returns the changes replayed under the lock."""
    return locked(
        conn,
        lock_timeout_ms=lock_timeout_ms,
        retries=retries,
        what=f"swap {target.table} for its partitioned copy",
        work=lambda: _swap(conn, target, spec, features),
    )


def _swap(
    conn: psycopg.Connection[Any], target: Target, spec: Spec, features: Mapping[str, Feature]
) -> int:
    from pgwarden.features.partition._replay import replay

    table, shadow, oid = target.table, target.shadow, target.oid
    incoming = conn.execute(
        """select c.conname, n.nspname, k.relname, pg_get_constraintdef(c.oid), k.relkind
           from pg_constraint c join pg_class k on k.oid = c.conrelid
           join pg_namespace n on n.oid = k.relnamespace
           where c.confrelid = %s and c.contype = 'f' order by n.nspname, k.relname""",
        (oid,),
    ).fetchall()
    conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table.ident))
    conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(shadow.ident))
    for _, schema, name, _, _ in incoming:
        conn.execute(
            sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(
                sql.Identifier(schema, name)
            )
        )
    # The last changes, and a check of exactly those rows (the rest was verified before).
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE pgw_swap_keys ON COMMIT DROP AS SELECT DISTINCT {} "
            "FROM {} l, jsonb_populate_record(NULL::{}, l.key) r"
        ).format(target.keys("r"), target.log.ident, table.ident)
    )
    replayed = replay(conn, target, None)
    sums = [
        conn.execute(
            sql.SQL(
                "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) FROM {} t "
                "WHERE ({}) IN (SELECT * FROM pgw_swap_keys)"
            ).format(rel.ident, target.keys("t"))
        ).fetchone()
        for rel in (table, shadow)
    ]
    if sums[0] != sums[1]:
        raise MaintenanceError(f"{table}: the last changes did not copy exactly; nothing swapped")
    triggers = [
        r[0]
        for r in conn.execute(
            """select pg_get_triggerdef(oid) from pg_trigger where tgrelid = %s
               and not tgisinternal and tgname not like 'pgwarden\\_%%' order by tgname""",
            (oid,),
        ).fetchall()
    ]
    policies = conn.execute(
        """select polname, polpermissive, polcmd,
                  array(select case when r = 0 then 'PUBLIC' else pg_get_userbyid(r) end
                        from unnest(polroles) r),
                  pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)
           from pg_policy where polrelid = %s order by polname""",
        (oid,),
    ).fetchall()
    for name, schema, child, _, _ in incoming:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(schema, child), sql.Identifier(name)
            )
        )
    _sequences(conn, target)
    # Grants, owner, RLS flags, comment of the table onto the shadow parent (its partitions
    # got them when they were made).
    carry(conn, Layout(table, oid, "", None, None, ()), [shadow], triggers=False)
    renames = _index_names(conn, table, shadow)
    relation_replaced(conn, features, oid, shadow)
    conn.execute(sql.SQL("DROP TABLE {}").format(table.ident))
    conn.execute(
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(shadow.ident, sql.Identifier(table.name))
    )
    for new_name, old_name in renames:
        if new_name != old_name:
            conn.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(table.schema, new_name), sql.Identifier(old_name)
                )
            )
    for definition in triggers:
        conn.execute(stored_sql(definition))
    for name, permissive, cmd, roles, qual, check in policies:
        statement = sql.SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
            sql.Identifier(name),
            table.ident,
            sql.SQL("PERMISSIVE" if permissive else "RESTRICTIVE"),
            sql.SQL(_CMD[cmd]),
            sql.SQL(", ").join(
                sql.SQL("PUBLIC") if r == "PUBLIC" else sql.Identifier(r) for r in roles
            ),
        )
        if qual is not None:
            statement += sql.SQL(" USING (") + stored_sql(qual) + sql.SQL(")")
        if check is not None:
            statement += sql.SQL(" WITH CHECK (") + stored_sql(check) + sql.SQL(")")
        conn.execute(statement)
    for name, schema, child, definition, kind in incoming:
        # NOT VALID: no scan now; validated after commit. A partitioned referencing table
        # cannot take NOT VALID before PostgreSQL 18: checked here, under the lock.
        later = kind != "p" or conn.info.server_version >= 180000
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                sql.Identifier(schema, child), sql.Identifier(name)
            )
            + stored_sql(definition)
            + sql.SQL(" NOT VALID" if later else "")
        )
    _features(conn, spec, features, table)
    conn.execute("delete from warden.partition_conversions where relid = %s", (oid,))
    conn.execute(sql.SQL("DROP TABLE {}").format(target.log.ident))
    conn.execute(sql.SQL("DROP FUNCTION {}()").format(target.function.ident))
    return replayed


def _sequences(conn: psycopg.Connection[Any], target: Target) -> None:
    """Serial sequences change owner (dropping the table would drop them); identity
    sequences of the shadow continue where the table's stopped."""
    table, shadow = target.table, target.shadow
    owned = conn.execute(
        """select s.oid::regclass::text, a.attname, d.deptype from pg_depend d
           join pg_class s on s.oid = d.objid and s.relkind = 'S'
           join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
           where d.refobjid = to_regclass(%s) and d.deptype in ('a', 'i')""",
        (table.regclass_text,),
    ).fetchall()
    for seq, column, deptype in owned:
        if deptype == "a":
            conn.execute(
                sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(
                    stored_sql(seq), sql.Identifier(shadow.schema, shadow.name, column)
                )
            )
            continue
        conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence({}, {}), last_value, is_called) FROM {}"
            ).format(sql.Literal(shadow.regclass_text), sql.Literal(column), stored_sql(seq))
        )


def _features(
    conn: psycopg.Connection[Any], spec: Spec, features: Mapping[str, Feature], table: QualifiedName
) -> None:
    """Rebuild what pgwarden's features declare on the table, as apply would (scoped to it),
    inside the swap: the default partition made for the shadow is adopted as theirs."""
    from pgwarden.features.partition import default_name

    ours = default_name(table)
    adopt = ObjectRef("partition", ours.schema, ours.name, table)
    apply_scoped(conn, spec, features, tables=[table], adopt=[adopt.key])


def validate_foreign_keys(
    conn: psycopg.Connection[Any], table: QualifiedName, spec: Spec, progress: ConvertProgress
) -> None:
    """Validate foreign keys pointing at ``table`` left NOT VALID by a swap (again after a
    crash): each its own transaction, SHARE UPDATE EXCLUSIVE on the referencing table."""
    rows = conn.execute(
        """select c.conname, n.nspname, k.relname from pg_constraint c
           join pg_class k on k.oid = c.conrelid join pg_namespace n on n.oid = k.relnamespace
           where c.confrelid = to_regclass(%s) and c.contype = 'f' and not c.convalidated
           order by 2, 3, 1""",
        (table.regclass_text,),
    ).fetchall()
    for done, (name, schema, child) in enumerate(rows, 1):
        statement = sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
            sql.Identifier(schema, child), sql.Identifier(name)
        )

        def work(statement: sql.Composed = statement) -> None:
            conn.execute(statement)

        locked(
            conn,
            lock_timeout_ms=spec.database.lock_timeout.milliseconds,
            retries=spec.database.retries,
            what=f"validate foreign key {name} of {schema}.{child}",
            work=work,
        )
        progress("validate foreign keys", done, len(rows))
