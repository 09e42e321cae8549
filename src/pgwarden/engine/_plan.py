"""Planning: compare what features want with the ledger and the live catalog."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import psycopg

from pgwarden._names import QualifiedName
from pgwarden.catalog import Catalog, read_catalog
from pgwarden.engine._change import Change, Plan
from pgwarden.engine._ledger import OwnedObject, read_ledger, stored_sql
from pgwarden.engine._objects import (
    NO_LOCK,
    DesiredObject,
    Statement,
    kind_of,
    live_fingerprint,
    register_kind,
)
from pgwarden.engine._streams import ENGINE, Stream, engine_stream, ordered, pending, versions
from pgwarden.errors import FeatureNotApplicable, PgwardenError, UnknownTable
from pgwarden.spec import Spec

if TYPE_CHECKING:
    from pgwarden.features import Feature

# Order of actions with the same kind rank: drops clear the way before anything is built,
# except those of kinds that wait until it is (Kind.drops_last).
_ACTION_ORDER = {"migrate": 0, "forget": 1, "drop": 2, "replace": 3, "repair": 3, "create": 3}
_LAST = 4


def build_plan(
    conn: psycopg.Connection[Any],
    spec: Spec,
    features: Mapping[str, Feature],
    *,
    catalog: Catalog | None = None,
    only: Collection[QualifiedName] | None = None,
) -> Plan:
    """The ordered changes that make the database match ``spec``. Reads only.

    ``only`` limits the plan to those tables: objects pgwarden owns for other tables are
    left as they are even though ``spec`` does not declare them; database-wide objects are
    never removed, and made when missing for the features declared on those tables.
    """
    catalog = catalog or read_catalog(conn)
    for feature in features.values():
        for kind in feature.kinds():
            register_kind(kind)
    ledger = full = read_ledger(conn)
    current = versions(conn)
    used = _used(spec, features)
    state = {name: features[name].prepare(conn) for name in sorted(used)}
    wide: dict[str, DesiredObject] = {}
    if only is not None:
        scope = set(only)
        # Database-wide objects (even those a ledger from before they were database-wide
        # filed under a table) are made when missing for the features declared on these
        # tables, and kept while any table has their feature: they go with its last table
        # (no object of it serves a table outside the scope, the file declares it nowhere).
        every = _database_objects(spec, catalog, features, frozenset(ledger), state)
        spec = replace(spec, tables={n: t for n, t in spec.tables.items() if n in scope})
        state = {name: state[name] for name in _used(spec, features)}
        wide = {k: o for k, o in every.items() if o.feature in state}
        elsewhere = {o.feature for o in full.values() if o.table and o.table not in scope}
        bodies = {o.ref.key for s in _all_streams(features) for o in s.objects()}

        def _in_scope(key: str, owned: OwnedObject) -> bool:
            if key in wide:
                return True
            if key in every or key in bodies:
                return False
            if owned.table is None:
                return owned.feature not in elsewhere | used
            return owned.table in scope

        ledger = {k: o for k, o in ledger.items() if _in_scope(k, o)}
    desired = desired_objects(
        spec, catalog, features, owned=frozenset(ledger), state=state, database=only is None
    )
    desired.update(wide)
    # A database pgwarden never touched gets its schema only when something is to be built;
    # one it manages gets pgwarden's own upgrades, and its streams' bodies, as they change.
    streams = (
        _streams(features, _used(spec, features), current) if desired or ENGINE in current else []
    )
    for stream in streams:
        for obj in stream.objects():
            if obj.ref.key in desired:
                raise PgwardenError(
                    f"{obj.ref} is defined by stream {stream.name} and wanted "
                    f"by {desired[obj.ref.key].feature}"
                )
            desired[obj.ref.key] = obj
            if obj.ref.key in full:  # (a plan limited to some tables keeps them too)
                ledger[obj.ref.key] = full[obj.ref.key]
    changes = _changes(conn, desired, ledger)
    todo = pending(conn, streams, current)
    if todo:
        changes.append(
            Change(
                action="migrate",
                feature="warden",
                description=(
                    "bring pgwarden's warden schema up to date ("
                    + ", ".join(f"{m.stream} {m.version:04d}_{m.name}" for m in todo)
                    + ")"
                ),
                statements=(),
            )
        )
    changes.sort(key=_order)
    return Plan(
        changes=tuple(changes),
        server=catalog.server,
        declared_tables=len(spec.tables),
        streams=tuple(streams),
        notes=_advice(spec, catalog, features, frozenset(ledger), state),
    )


def _advice(
    spec: Spec,
    catalog: Catalog,
    features: Mapping[str, Feature],
    owned: frozenset[str],
    state: Mapping[str, Any],
) -> tuple[str, ...]:
    from pgwarden.features import PlanContext

    ctx = PlanContext(catalog=catalog, spec=spec, owned=owned, state=dict(state), features=features)
    return tuple(note for name in sorted(features) for note in features[name].advice(ctx))


def _all_streams(features: Mapping[str, Feature]) -> list[Stream]:
    return [engine_stream(), *(s for f in features.values() if (s := f.stream()) is not None)]


def _used(spec: Spec, features: Mapping[str, Feature]) -> set[str]:
    """Features declared on a table, or with a top-level section of their name written."""
    tables = {name for t in spec.tables.values() for name in t.features}
    return tables | (set(spec.sections) & set(features))


def _streams(
    features: Mapping[str, Feature], used: set[str], current: Mapping[str, int]
) -> list[Stream]:
    """The engine's stream, and those of the features declared on a table or whose state is
    in the database already (their bodies stay while their state does)."""
    found = {ENGINE: engine_stream()}
    for name, feature in features.items():
        stream = feature.stream()
        if stream is not None and (name in used or stream.name in current):
            found.setdefault(stream.name, stream)
    return ordered(list(found.values()))


def _changes(
    conn: psycopg.Connection[Any],
    desired: Mapping[str, DesiredObject],
    ledger: Mapping[str, OwnedObject],
) -> list[Change]:
    changes: list[Change] = []
    for key, obj in desired.items():
        change = _compare(conn, obj, ledger.get(key))
        if change is not None:
            changes.append(change)
    for key, owned in ledger.items():
        if key not in desired:
            changes.append(_removal(conn, owned))
    return changes


def _database_objects(
    spec: Spec,
    catalog: Catalog,
    features: Mapping[str, Feature],
    owned: frozenset[str],
    state: Mapping[str, Any],
) -> dict[str, DesiredObject]:
    from pgwarden.features import PlanContext

    ctx = PlanContext(catalog=catalog, spec=spec, owned=owned, state=dict(state), features=features)
    return {
        obj.ref.key: obj
        for name in sorted(_used(spec, features))
        for obj in features[name].database_objects(ctx)
    }


def desired_objects(
    spec: Spec,
    catalog: Catalog,
    features: Mapping[str, Feature],
    *,
    owned: frozenset[str] = frozenset(),
    state: Mapping[str, Any] | None = None,
    database: bool = True,
) -> dict[str, DesiredObject]:
    """Every object the declared features need, keyed by identity; checks the tables exist
    and that each table declares the features its features require. ``database``: with the
    database-wide objects of each feature in use."""
    from pgwarden.features import PlanContext, check_dependencies

    check_dependencies(spec, features)

    ctx = PlanContext(
        catalog=catalog, spec=spec, owned=owned, state=dict(state or {}), features=features
    )
    desired: dict[str, DesiredObject] = {}

    def add(obj: DesiredObject) -> None:
        clash = desired.get(obj.ref.key)
        if clash is not None and (clash.table != obj.table or clash.create_sql != obj.create_sql):
            where = f"on {clash.table}" if clash.table else "database-wide"
            there = f"on {obj.table}" if obj.table else "database-wide"
            raise PgwardenError(
                f"{obj.ref} is wanted by {clash.feature} {where} and by "
                f"{obj.feature} {there}; one object cannot serve both"
            )
        desired[obj.ref.key] = obj

    for table_spec in spec.tables.values():
        table = catalog.get(table_spec.name)
        if table is None:
            near = catalog.closest_table(table_spec.name)
            raise UnknownTable(
                f"no such table in database {catalog.server.database!r}",
                file=spec.file,
                table=table_spec.key,
                line=table_spec.line,
                suggestion=str(near) if near else None,
            )
        for name, options in table_spec.features.items():
            for obj in features[name].objects(table, options, ctx):
                add(obj)
    for name in sorted(_used(spec, features)) if database else ():
        for obj in features[name].database_objects(ctx):
            add(obj)
    return desired


def _compare(
    conn: psycopg.Connection[Any], obj: DesiredObject, owned: OwnedObject | None
) -> Change | None:
    live = live_fingerprint(conn, obj.ref)
    common: dict[str, Any] = {
        "feature": obj.feature,
        "table": obj.table,
        "ref": obj.ref,
        "lock": obj.lock,
        "transactional": obj.transactional,
        "description": obj.description,
        "desired": obj,
    }
    if owned is None:
        reason = None
        if live is not None:
            if not (kind_of(obj.ref).or_replace or obj.adopt):
                # A database-wide object (a declared view, a role) has no table: name it.
                where = obj.table or ".".join(p for p in (obj.ref.schema, obj.ref.name) if p)
                raise FeatureNotApplicable(
                    str(where), obj.feature, f"{obj.ref} already exists and is not pgwarden's"
                )
            reason = "replaces an object of that name pgwarden has no record of"
        return Change(
            action="create",
            statements=obj.builds,
            reason=reason,
            undo=(obj.drop,),
            **common,
        )
    if owned.definition_hash != obj.definition_hash:
        statements = _rebuild(obj, exists=live is not None)
        # Undo puts back the previous definition, as the ledger recorded it.
        previous = stored_sql(owned.create_sql)
        undo = (previous,) if len(statements) == 1 else (obj.drop, previous)
        return Change(
            action="replace",
            statements=statements,
            reason="its definition changed",
            destructive=obj.destructive and len(statements) > 1,
            undo=undo,
            **common,
        )
    if live is None:
        return Change(
            action="repair", statements=obj.builds, reason="dropped outside pgwarden", **common
        )
    if live != owned.fingerprint:
        statements = _rebuild(obj, exists=True)
        return Change(
            action="repair",
            statements=statements,
            reason="altered outside pgwarden",
            destructive=obj.destructive and len(statements) > 1,
            **common,
        )
    if owned.table != obj.table:
        # Filed under another table (or none) than it serves now: only the ledger changes.
        return Change(
            action="repair",
            statements=(),
            reason=f"recorded under {owned.table or 'the database'}; now "
            + (f"serves {obj.table}" if obj.table else "database-wide"),
            **common,
        )
    return None


def _rebuild(obj: DesiredObject, *, exists: bool) -> tuple[Statement, ...]:
    """The least disruptive way to bring an existing object to ``obj``'s definition."""
    if not exists or kind_of(obj.ref).or_replace:
        return obj.builds
    if obj.alter is not None:
        return (obj.alter,)
    return (obj.drop, *obj.builds)


def _removal(conn: psycopg.Connection[Any], owned: OwnedObject) -> Change:
    if live_fingerprint(conn, owned.ref) is None:
        return Change(
            action="forget",
            feature=owned.feature,
            table=owned.table,
            ref=owned.ref,
            description=f"forget {owned.ref} (no longer declared, already gone)",
            statements=(),
            lock=NO_LOCK,
        )
    return Change(
        action="drop",
        feature=owned.feature,
        table=owned.table,
        ref=owned.ref,
        description=f"remove {owned.description}",
        statements=(stored_sql(owned.drop_sql),),
        lock=kind_of(owned.ref).lock_for_drop(owned.ref),
        destructive=owned.destructive,
        undo=(stored_sql(owned.create_sql),),
    )


def _order(change: Change) -> tuple[int, int, int, str]:
    rank = kind_of(change.ref).rank if change.ref else -1
    if change.desired is not None and change.desired.rank is not None:
        rank = change.desired.rank
    # Database-wide objects (shared functions, event triggers) before those of tables, which
    # use them.
    scope = 1 if change.table is not None else 0
    if change.action in ("drop", "forget"):
        # Dependents (triggers) go before what they depend on (functions).
        rank, scope = -rank, -scope
    order = _ACTION_ORDER[change.action]
    if change.action == "drop" and change.ref is not None and kind_of(change.ref).drops_last:
        order = _LAST
    return (order, scope, rank, change.ref.key if change.ref else "")
