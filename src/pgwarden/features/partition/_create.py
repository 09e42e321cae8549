"""Making one partition: a standalone table, filled if rows wait in the default partition,
then attached, then given what PostgreSQL does not clone from the parent.

Why not ``CREATE TABLE ... PARTITION OF``: it takes ACCESS EXCLUSIVE on the parent (every
reader and writer of the table waits). ``ATTACH PARTITION`` takes SHARE UPDATE EXCLUSIVE on
the parent (DML goes on), ACCESS EXCLUSIVE only on the new table and on the default
partition, which it must scan; a CHECK constraint matching the bounds spares the scan of the
new table itself.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, LiteralString, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.engine import apply_scoped
from pgwarden.errors import MaintenanceError
from pgwarden.features.partition._layout import Layout
from pgwarden.spec import Spec

if TYPE_CHECKING:
    from pgwarden.features import Feature

log = logging.getLogger("pgwarden.partition")
T = TypeVar("T")
_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER",
               "MAINTAIN")  # fmt: skip


def locked(
    conn: psycopg.Connection[Any],
    *,
    lock_timeout_ms: int,
    retries: int,
    what: str,
    work: Callable[[], T],
) -> T:
    """Run ``work`` in one transaction whose lock waits end at ``lock_timeout``; on a lock
    timeout or a deadlock, roll back, back off with jitter and try again."""
    for attempt in range(1, retries + 2):
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(lock_timeout_ms))
                )
                return work()
        except (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected) as exc:
            if attempt > retries:
                raise MaintenanceError(
                    f"{what}: lock not granted within lock_timeout={lock_timeout_ms}ms "
                    f"after {attempt} attempts ({exc.diag.message_primary})",
                    hint="retry when the table is quieter, or raise [database] lock_timeout",
                ) from None
            pause = min(30.0, 0.1 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
            log.warning("%s: lock not granted, retry %d/%d in %.2fs", what, attempt, retries, pause)
            time.sleep(pause)
    raise AssertionError("unreachable")


def may_replicate(conn: psycopg.Connection[Any]) -> bool:
    """Whether this session may set ``session_replication_role`` (moves rows without firing
    triggers or foreign-key actions)."""
    row = conn.execute("select current_setting('is_superuser') = 'on'").fetchone()
    if row and row[0]:
        return True
    if conn.info.server_version >= 150000:
        row = conn.execute(
            "select has_parameter_privilege('session_replication_role', 'SET')"
        ).fetchone()
        return bool(row and row[0])
    return False


def create_partition(
    conn: psycopg.Connection[Any],
    layout: Layout,
    name: QualifiedName,
    bound: sql.Composable,
    within: sql.Composable,
    *,
    batch: int,
    progress: Callable[[int], None],
    move: bool = True,
) -> int:
    """Create partition ``name`` (``bound`` is ``FOR VALUES ...``, ``within`` the same as a
    condition on the key column) inside the caller's transaction. Rows of the default
    partition that belong to it are moved in first (or, without ``move``, -1 is returned
    and the caller rolls back). Returns how many rows moved."""
    parent = layout.parent.ident
    # With a default partition, writers are held at the parent (SHARE: readers go on) until
    # commit. A writer already routed to the default, waiting for its lock, would insert
    # there after the attach and fail the default's new partition constraint; one held at
    # the parent routes again with the new partitions. Without a default, ATTACH's SHARE
    # UPDATE EXCLUSIVE is enough: DML goes on.
    mode: LiteralString = "SHARE" if layout.default is not None else "SHARE UPDATE EXCLUSIVE"
    conn.execute(sql.SQL("LOCK TABLE {} IN " + mode + " MODE").format(parent))
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED"
            " INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS INCLUDING STATISTICS)"
        ).format(name.ident, parent)
    )
    check = sql.Identifier(name.name[:50] + "__bounds")
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({})").format(name.ident, check, within)
    )
    moved = 0
    default = layout.default
    if default is not None:
        # Also against writers naming the default partition itself.
        conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(default.name.ident))
        waiting = conn.execute(
            sql.SQL("select exists (select 1 from {} where {})").format(default.name.ident, within)
        ).fetchone()
        if waiting and waiting[0]:
            if not move:
                return -1
            moved = _move(conn, layout, default.name, name, within, batch, progress)
    conn.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} {}").format(parent, name.ident, bound))
    conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(name.ident, check))
    carry(conn, layout, [name])
    return moved


def _columns(conn: psycopg.Connection[Any], table: QualifiedName) -> sql.Composed:
    rows = conn.execute(
        """select attname from pg_attribute where attrelid = to_regclass(%s) and attnum > 0
           and not attisdropped and attgenerated = '' order by attnum""",
        (table.regclass_text,),
    ).fetchall()
    return sql.SQL(", ").join(sql.Identifier(r[0]) for r in rows)


def _move(
    conn: psycopg.Connection[Any],
    layout: Layout,
    default: QualifiedName,
    target: QualifiedName,
    within: sql.Composable,
    batch: int,
    progress: Callable[[int], None],
) -> int:
    """Move the default's rows that belong to ``target``, in batches, inside the caller's
    transaction: the rows leave the default and appear in the new partition at one commit,
    so no reader ever misses them and no concurrent UPDATE or DELETE is lost."""
    if may_replicate(conn):
        # The rows do not change: no trigger (audit would record deletions) and no foreign
        # key action (ON DELETE CASCADE from the DELETE half) may fire.
        conn.execute("SET LOCAL session_replication_role = replica")
        restore: list[tuple[str, str]] = []
    else:
        referenced = conn.execute(
            "select conname from pg_constraint where contype = 'f' and confrelid = %s",
            (layout.oid,),
        ).fetchone()
        if referenced:
            raise MaintenanceError(
                f"{layout.parent}: rows in the default partition cannot be moved without "
                f"firing foreign key {referenced[0]} (it references this table)",
                hint="run maintenance as a superuser, or (PostgreSQL 15+) GRANT SET ON "
                "PARAMETER session_replication_role to its role",
            )
        rows = conn.execute(
            """select tgname, tgenabled from pg_trigger where tgrelid = to_regclass(%s)
               and not tgisinternal and tgenabled <> 'D'""",
            (default.regclass_text,),
        ).fetchall()
        restore = [(r[0], r[1]) for r in rows]
        conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(default.ident))
    columns = _columns(conn, layout.parent)
    statement = sql.SQL(
        "WITH moved AS (DELETE FROM {src} WHERE ctid = ANY (ARRAY (SELECT ctid FROM {src} "
        "WHERE {within} LIMIT {batch})) RETURNING {cols}) "
        "INSERT INTO {dst} ({cols}) SELECT {cols} FROM moved"
    ).format(
        src=default.ident, within=within, batch=sql.Literal(batch), cols=columns, dst=target.ident
    )
    moved = 0
    while True:
        done = conn.execute(statement).rowcount
        if done <= 0:
            break
        moved += done
        progress(moved)
    mode = {"O": "", "A": "ALWAYS ", "R": "REPLICA "}
    for trigger, enabled in restore:
        conn.execute(
            sql.SQL("ALTER TABLE {} ENABLE " + mode.get(enabled, "") + "TRIGGER {}").format(
                default.ident, sql.Identifier(trigger)
            )
        )
    return moved


def carry(
    conn: psycopg.Connection[Any],
    layout: Layout,
    parts: list[QualifiedName],
    *,
    triggers: bool = True,
) -> None:
    """Give new partitions what PostgreSQL does not clone from the parent (it does clone
    indexes, row triggers, foreign keys, CHECK and NOT NULL): owner, grants, row level
    security flags, replica identity FULL, the table comment, and TRUNCATE triggers
    (``triggers``)."""
    head = conn.execute(
        """select pg_get_userbyid(relowner), relrowsecurity, relforcerowsecurity, relreplident,
                  obj_description(oid, 'pg_class'), current_user = pg_get_userbyid(relowner)
           from pg_class where oid = %s""",
        (layout.oid,),
    ).fetchone()
    assert head is not None
    owner, rls, force, replident, comment, same_owner = head
    grants = conn.execute(
        """select coalesce(r.rolname, 'PUBLIC'), a.privilege_type, a.is_grantable
           from pg_class c cross join aclexplode(c.relacl) a
           left join pg_roles r on r.oid = a.grantee where c.oid = %s""",
        (layout.oid,),
    ).fetchall()
    truncates = conn.execute(
        """select t.tgname, (t.tgtype & 2) <> 0, n.nspname, p.proname, t.tgargs
           from pg_trigger t join pg_proc p on p.oid = t.tgfoid
           join pg_namespace n on n.oid = p.pronamespace
           where t.tgrelid = %s and not t.tgisinternal and (t.tgtype & 32) <> 0
             and (t.tgtype & 1) = 0 and t.tgname not like 'pgwarden\\_%%'""",
        (layout.oid,),
    ).fetchall()
    for part in parts:
        target = part.ident
        if not same_owner:
            conn.execute(
                sql.SQL("ALTER TABLE {} OWNER TO {}").format(target, sql.Identifier(owner))
            )
        for grantee, privilege, grantable in grants:
            if privilege not in _PRIVILEGES:
                continue
            who = sql.SQL("PUBLIC") if grantee == "PUBLIC" else sql.Identifier(grantee)
            conn.execute(
                sql.SQL("GRANT {} ON {} TO {}{}").format(
                    sql.SQL(privilege),
                    target,
                    who,
                    sql.SQL(" WITH GRANT OPTION" if grantable else ""),
                )
            )
        if rls:
            conn.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(target))
        if force:
            conn.execute(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(target))
        if replident == "f":
            conn.execute(sql.SQL("ALTER TABLE {} REPLICA IDENTITY FULL").format(target))
        if comment is not None:
            conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(target, sql.Literal(comment)))
        for tgname, before, fn_schema, fn_name, raw_args in truncates if triggers else []:
            args = [a.decode() for a in bytes(raw_args).split(b"\0")[:-1]]
            conn.execute(
                sql.SQL(
                    "CREATE TRIGGER {} {} TRUNCATE ON {} FOR EACH STATEMENT EXECUTE FUNCTION {}({})"
                ).format(
                    sql.Identifier(tgname),
                    sql.SQL("BEFORE" if before else "AFTER"),
                    target,
                    sql.Identifier(fn_schema, fn_name),
                    sql.SQL(", ").join(sql.Literal(a) for a in args),
                )
            )


def carry_features(
    conn: psycopg.Connection[Any],
    spec: Spec,
    features: Mapping[str, Feature],
    parent: QualifiedName,
    parts: list[QualifiedName],
) -> int:
    """Build what other pgwarden features declared on ``parent`` want on these new
    partitions (audit's TRUNCATE trigger...), through the engine's scoped apply: the next
    plan has nothing to add, and dropping the feature removes them."""
    table_spec = spec.tables.get(parent)
    if table_spec is None or not set(table_spec.features) - {"partition"} or not parts:
        return 0
    return len(apply_scoped(conn, spec, features, tables=[parent], on=parts))


def release_features(
    conn: psycopg.Connection[Any],
    spec: Spec,
    features: Mapping[str, Feature],
    parent: QualifiedName,
    part: QualifiedName,
) -> None:
    """Drop and forget the objects pgwarden's features own on a partition leaving its table
    (a detached partition is a plain table, not audited any more)."""
    apply_scoped(conn, spec, features, tables=[parent], on=[], leaving=[part])
