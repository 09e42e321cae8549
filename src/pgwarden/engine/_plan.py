"""Planning: compare what features want with the ledger and the live catalog."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import psycopg

from pgwarden._names import QualifiedName
from pgwarden.catalog import Catalog, read_catalog
from pgwarden.engine._change import Change, Plan
from pgwarden.engine._ledger import OwnedObject, pending_migrations, read_ledger, stored_sql
from pgwarden.engine._objects import KINDS, NO_LOCK, DesiredObject, Statement, live_fingerprint
from pgwarden.errors import FeatureNotApplicable, PgwardenError, UnknownTable
from pgwarden.spec import Spec

if TYPE_CHECKING:
    from pgwarden.features import Feature

# Order of actions with the same kind rank: drops clear the way before anything is built.
_ACTION_ORDER = {"migrate": 0, "forget": 1, "drop": 2, "replace": 3, "repair": 3, "create": 3}


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
    left as they are even though ``spec`` does not declare them.
    """
    catalog = catalog or read_catalog(conn)
    ledger = read_ledger(conn)
    if only is not None:
        scope = set(only)
        ledger = {k: o for k, o in ledger.items() if o.table in scope}
        spec = replace(spec, tables={n: t for n, t in spec.tables.items() if n in scope})
    used = {name for t in spec.tables.values() for name in t.features}
    state = {name: features[name].prepare(conn) for name in sorted(used)}
    desired = desired_objects(spec, catalog, features, owned=frozenset(ledger), state=state)
    changes: list[Change] = []
    for key, obj in desired.items():
        change = _compare(conn, obj, ledger.get(key))
        if change is not None:
            changes.append(change)
    for key, owned in ledger.items():
        if key not in desired:
            changes.append(_removal(conn, owned))
    pending = pending_migrations(conn)
    # A database pgwarden never touched gets its schema only when something is to be built;
    # one it manages gets pgwarden's own upgrades as soon as they exist.
    if pending and (changes or pending[0].version > 1):
        changes.append(
            Change(
                action="migrate",
                feature="warden",
                description=(
                    f"bring pgwarden's warden schema to version {pending[-1].version} "
                    f"({', '.join(m.name for m in pending)})"
                ),
                statements=(),
            )
        )
    changes.sort(key=_order)
    return Plan(changes=tuple(changes), server=catalog.server, declared_tables=len(spec.tables))


def desired_objects(
    spec: Spec,
    catalog: Catalog,
    features: Mapping[str, Feature],
    *,
    owned: frozenset[str] = frozenset(),
    state: Mapping[str, Any] | None = None,
) -> dict[str, DesiredObject]:
    """Every object the declared features need, keyed by identity; checks the tables exist
    and that each table declares the features its features require."""
    from pgwarden.features import PlanContext, check_dependencies

    check_dependencies(spec, features)

    ctx = PlanContext(
        catalog=catalog, spec=spec, owned=owned, state=dict(state or {}), features=features
    )
    desired: dict[str, DesiredObject] = {}
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
                clash = desired.get(obj.ref.key)
                if clash is not None and (
                    clash.table != obj.table or clash.create_sql != obj.create_sql
                ):
                    raise PgwardenError(
                        f"{obj.ref} is wanted by {clash.feature} on {clash.table} and by "
                        f"{obj.feature} on {obj.table}; one object cannot serve both"
                    )
                desired[obj.ref.key] = obj
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
            if not KINDS[obj.ref.kind].or_replace:
                raise FeatureNotApplicable(
                    str(obj.table), obj.feature, f"{obj.ref} already exists and is not pgwarden's"
                )
            reason = "replaces an object of that name pgwarden has no record of"
        return Change(
            action="create",
            statements=(obj.create,),
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
            action="repair", statements=(obj.create,), reason="dropped outside pgwarden", **common
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
    return None


def _rebuild(obj: DesiredObject, *, exists: bool) -> tuple[Statement, ...]:
    """The least disruptive way to bring an existing object to ``obj``'s definition."""
    if not exists or KINDS[obj.ref.kind].or_replace:
        return (obj.create,)
    if obj.alter is not None:
        return (obj.alter,)
    return (obj.drop, obj.create)


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
        lock=KINDS[owned.ref.kind].lock_for_drop(owned.ref),
        destructive=owned.destructive,
        undo=(stored_sql(owned.create_sql),),
    )


def _order(change: Change) -> tuple[int, int, str]:
    rank = KINDS[change.ref.kind].rank if change.ref else -1
    if change.action in ("drop", "forget"):
        rank = -rank  # dependents (triggers) go before what they depend on (functions)
    return (_ACTION_ORDER[change.action], rank, change.ref.key if change.ref else "")
