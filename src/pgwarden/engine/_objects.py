"""The objects pgwarden owns in a database, and one comparator per object kind.

A feature describes what it wants as :class:`DesiredObject` values. The engine compares
each with the ledger (what pgwarden created, and how) and with the live catalog, through
the :data:`KINDS` registry: each kind knows its creation order and how to read a
fingerprint of the live object, so that an object altered or dropped by hand shows as drift.
The engine registers the kinds PostgreSQL has (tables, columns, functions, triggers...); a
feature adds its own through :meth:`Feature.kinds` (or :func:`register_kind`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.errors import PgwardenError


@dataclass(frozen=True)
class Lock:
    """The strongest table lock a statement takes (``None`` relation: catalog rows only)."""

    mode: str | None = None
    relation: QualifiedName | None = None

    def __str__(self) -> str:
        if self.mode is None or self.relation is None:
            return "no table lock"
        return f"{self.mode} on {self.relation}"

    def to_json(self) -> dict[str, Any] | None:
        if self.mode is None or self.relation is None:
            return None
        return {"mode": self.mode, "relation": str(self.relation)}


NO_LOCK = Lock()

Statement = sql.SQL | sql.Composed
"""One SQL statement, composed (never formatted) so identifiers are always quoted."""


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Identity of one database object: its kind, schema and name, and the relation it lives on
    (for columns, triggers and policies)."""

    kind: str
    schema: str
    name: str
    relation: QualifiedName | None = None
    args: str = ""
    """For functions: the argument types, as in ``regprocedure`` (``""`` for none)."""

    @property
    def key(self) -> str:
        # Cluster-wide objects (roles) have no schema.
        where = f"{self.relation}/" if self.relation else f"{self.schema}." if self.schema else ""
        signature = f"({self.args})" if self.kind == "function" and self.args else ""
        return f"{self.kind} {where}{self.name}{signature}"

    def __str__(self) -> str:
        return self.key

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "schema": self.schema, "name": self.name}
        if self.relation:
            data["relation"] = {"schema": self.relation.schema, "name": self.relation.name}
        if self.args:
            data["args"] = self.args
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ObjectRef:
        rel = data.get("relation")
        relation = QualifiedName(rel["schema"], rel["name"]) if rel else None
        return cls(data["kind"], data["schema"], data["name"], relation, data.get("args", ""))


@dataclass(frozen=True)
class DesiredObject:
    """One object a feature wants to exist, with the SQL that creates and drops it."""

    ref: ObjectRef
    feature: str
    table: QualifiedName | None
    """The declared table this object serves; ``None``: the whole database (an event
    trigger, an extension, a function shared by every table), from
    :meth:`Feature.database_objects` or a feature's defined-once SQL."""
    create: Statement
    drop: Statement
    description: str
    lock: Lock = NO_LOCK
    rank: int | None = None
    """Its place in the creation order, when not its kind's (:attr:`Kind.rank`)."""
    adopt: bool = False
    """An object of this identity that pgwarden has no record of is taken over by running
    ``create`` (which must replace it), even for a kind that is not ``or_replace``: for the
    defined-once bodies of a store made before pgwarden kept a ledger of them."""
    alter: Statement | None = None
    """Brings an existing object back to this definition in place (e.g. ALTER COLUMN), used
    instead of drop + create when its definition changed or it was altered by hand."""
    destructive: bool = False
    """Dropping it loses data (a column, a table): the plan says so."""
    transactional: bool = True
    secret: Callable[[psycopg.Connection[Any]], Statement] | None = field(
        default=None, compare=False, repr=False
    )
    """Builds, at apply time, a statement run right after ``create`` in the same transaction,
    from something the plan must never show (a password read from the environment, sent as
    its SCRAM verifier). Never in the plan, its fingerprint or the ledger."""
    steps: tuple[Statement, ...] = ()
    """Statements run one by one after ``create`` whenever it runs: a build in several
    non-transactional steps (an index built on each partition of a partitioned table, then
    attached). Not part of the definition: they say how to build it, not what it is."""
    create_sql: str = field(init=False)
    drop_sql: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "create_sql", self.create.as_string(None))
        object.__setattr__(self, "drop_sql", self.drop.as_string(None))

    @property
    def builds(self) -> tuple[Statement, ...]:
        """What creates it: ``create``, then the ``steps``."""
        return (self.create, *self.steps)

    @property
    def definition_hash(self) -> str:
        return hashlib.sha256(self.create_sql.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Kind:
    """How the engine handles one kind of object."""

    name: str
    rank: int
    """Creation order (lower first); drops run in the reverse order."""
    fingerprint: LiteralString
    """A query taking ``regclass``, ``schema`` and ``name`` that returns one text, or no row."""
    or_replace: bool = False
    """Its CREATE statement replaces in place (CREATE OR REPLACE): no drop before a redefinition."""
    drop_lock: str | None = "ACCESS EXCLUSIVE"
    """The lock its DROP takes on the relation it lives on (or is)."""
    needs: str | None = None
    """A pgwarden table (``warden.t``) or function (``warden.f(text)``) the fingerprint query
    reads; absent (not migrated yet, dropped by hand): no object."""
    on_relation: bool = False
    """Found through the relation it lives on (``ObjectRef.relation``): columns, triggers,
    policies; otherwise the object is a relation itself (or not one at all)."""
    drops_last: bool = False
    """Its drop waits until the plan's objects are built: what is rebuilt may call it until
    then (a replaced policy, a trigger), and no object of another kind can need its name.
    Such drops keep the reverse creation order among themselves (a function before the
    extension it calls, everything before its schema)."""

    def lock_for_drop(self, ref: ObjectRef) -> Lock:
        if self.drop_lock is None:
            return NO_LOCK
        return Lock(self.drop_lock, ref.relation or QualifiedName(ref.schema, ref.name))


def _regclass(ref: ObjectRef, kind: Kind) -> str:
    if ref.relation is not None and kind.on_relation:
        return ref.relation.regclass_text
    return QualifiedName(ref.schema, ref.name).regclass_text


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (  # PostgreSQL's own; features register theirs
        Kind(
            "schema",
            0,
            "select 'schema' from pg_namespace where nspname = %(name)s",
            drop_lock=None,
            drops_last=True,
        ),
        # An extension pgwarden installed for a feature.
        Kind(
            "extension",
            5,
            "select extversion from pg_extension where extname = %(name)s",
            drop_lock=None,
            drops_last=True,
        ),
        Kind(
            "table",
            10,
            """select md5(string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod),
                                     ',' order by a.attnum))
               from pg_attribute a where a.attrelid = to_regclass(%(regclass)s)
               and a.attnum > 0 and not a.attisdropped having count(*) > 0""",
        ),
        # A table pgwarden creates to hold data (e.g. rows moved out). Its columns are owned one by
        # one (added in place as the source grows), so its own fingerprint is only that it
        # exists and whether it is partitioned: a new column must never make it "altered".
        Kind(
            "data_table",
            11,
            "select c.relkind::text from pg_class c where c.oid = to_regclass(%(regclass)s)",
        ),
        Kind(
            "column",
            20,
            """select format_type(a.atttypid, a.atttypmod) || ' not null=' || a.attnotnull
                      || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
               from pg_attribute a
               left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
               where a.attrelid = to_regclass(%(regclass)s) and a.attname = %(name)s
               and not a.attisdropped""",
            on_relation=True,
        ),
        Kind(
            "function",
            30,
            """select md5(pg_get_functiondef(to_regprocedure(%(regproc)s)))
               where to_regprocedure(%(regproc)s) is not null""",
            or_replace=True,
            drop_lock=None,
            drops_last=True,
        ),
        # Database-wide: fires on DDL of every table.
        Kind(
            "event_trigger",
            35,
            """select md5(e.evtevent || ':' || e.evtenabled::text || ':'
                          || e.evtfoid::regprocedure::text || ':' || coalesce(e.evttags::text, ''))
               from pg_event_trigger e where e.evtname = %(name)s""",
            or_replace=True,  # its create drops any trigger of that name first
            drop_lock=None,
        ),
        Kind(
            "trigger",
            40,
            """select md5(pg_get_triggerdef(t.oid) || t.tgenabled::text) from pg_trigger t
               where t.tgrelid = to_regclass(%(regclass)s) and t.tgname = %(name)s""",
            or_replace=True,
            on_relation=True,
        ),
        Kind(
            # A partition pgwarden makes (the default one): its columns follow the parent's,
            # so only its existence as that table's default counts, never its columns.
            "partition",
            15,
            """select 'default of ' || format('%%I.%%I', n.nspname, p.relname) from pg_class c
               join pg_inherits i on i.inhrelid = c.oid
               join pg_class p on p.oid = i.inhparent
               join pg_namespace n on n.oid = p.relnamespace
               where c.oid = to_regclass(%(regclass)s)
                 and pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'""",
        ),
        Kind(
            "index",
            50,
            "select md5(pg_get_indexdef(to_regclass(%(regclass)s)))"
            " where to_regclass(%(regclass)s) is not null",
        ),
        Kind(
            "view",
            60,
            "select md5(pg_get_viewdef(to_regclass(%(regclass)s)))"
            " where to_regclass(%(regclass)s) is not null",
        ),
        Kind(
            "row_security",
            65,
            "select 'enabled' from pg_class"
            " where oid = to_regclass(%(regclass)s) and relrowsecurity",
        ),
        Kind(
            "policy",
            70,
            """select md5(p.polcmd::text || p.polpermissive::text || p.polroles::text
                          || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
                          || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''))
               from pg_policy p
               where p.polrelid = to_regclass(%(regclass)s) and p.polname = %(name)s""",
            on_relation=True,
        ),
    )
}


def register_kind(kind: Kind) -> None:
    """Add ``kind`` to :data:`KINDS` (a feature's own kind of object). Registering the same
    kind again is a no-op; another kind under a name already taken is an error."""
    known = KINDS.get(kind.name)
    if known is not None and known != kind:
        raise PgwardenError(f"two different object kinds are named {kind.name!r}")
    KINDS[kind.name] = kind


def kind_of(ref: ObjectRef) -> Kind:
    """The registered kind of ``ref``; a clear error when no installed feature provides it
    (a ledger row left by a feature that is not installed any more)."""
    kind = KINDS.get(ref.kind)
    if kind is None:
        raise PgwardenError(
            f"pgwarden owns {ref}, of kind {ref.kind!r}, which no installed feature registers",
            hint="install the feature that made it (its package), then plan again",
        )
    return kind


def live_fingerprint(conn: psycopg.Connection[Any], ref: ObjectRef) -> str | None:
    """A fingerprint of the object as it is now, or None if it does not exist."""
    kind = kind_of(ref)
    if kind.needs is not None:
        lookup = "to_regprocedure" if "(" in kind.needs else "to_regclass"
        present = conn.execute(
            sql.SQL("select {}(%s) is not null").format(sql.Identifier(lookup)), (kind.needs,)
        ).fetchone()
        if not present or not present[0]:
            return None
    params = {
        "regclass": _regclass(ref, kind),
        "regproc": f"{sql.Identifier(ref.schema, ref.name).as_string(None)}({ref.args})",
        "schema": ref.schema,
        "name": ref.name,
        "rel_schema": ref.relation.schema if ref.relation else None,
        "rel_name": ref.relation.name if ref.relation else None,
    }
    row = conn.execute(kind.fingerprint, params).fetchone()
    return None if row is None or row[0] is None else str(row[0])
