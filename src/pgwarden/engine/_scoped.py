"""Work outside ``pgwarden apply`` that the ledger must follow: a feature's own operations
(a partition made by maintenance, a table swapped for its partitioned copy) after which the
other features' objects must be there at once, built and recorded exactly as apply would.

Features never write ``warden.owned_objects`` or another feature's tables themselves: they
call these, which take the apply lock, mark the transaction as applying, plan, run and record.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.pq import TransactionStatus

from pgwarden._names import QualifiedName
from pgwarden.engine import _ledger, _streams
from pgwarden.engine._apply import (
    APPLY_LOCK_KEY,
    _execute,
    mark_applying,
    take_apply_lock,
)
from pgwarden.engine._change import Change
from pgwarden.engine._objects import live_fingerprint
from pgwarden.engine._plan import _changes, _order, _removal, build_plan, desired_objects
from pgwarden.errors import PgwardenError
from pgwarden.spec import Spec

if TYPE_CHECKING:
    from pgwarden.features import Feature


def apply_scoped(
    conn: psycopg.Connection[Any],
    spec: Spec,
    features: Mapping[str, Feature],
    *,
    tables: Collection[QualifiedName],
    on: Collection[QualifiedName] | None = None,
    leaving: Collection[QualifiedName] = (),
    adopt: Collection[str] = (),
) -> tuple[Change, ...]:
    """Apply the plan of ``tables`` inside the caller's transaction, and return its changes.

    Takes the apply lock for the transaction (``pg_advisory_xact_lock``: waits no longer than
    the caller's ``lock_timeout``, and is released at its commit or rollback), marks it as
    applying (:data:`APPLYING`), then runs the changes of the plan limited to ``tables`` and
    records them in the ledger. Never migrates (``pgwarden apply`` does) nor touches
    database-wide objects.

    ``on``: only the changes to objects living on these relations (new partitions).
    ``leaving``: relations leaving their table (a partition detached or handed over): every
    object pgwarden owns on them is dropped (if still there) and forgotten, whatever the plan
    says. ``adopt``: keys of objects the caller made itself for a feature (a default partition
    made with a shadow table), recorded as they are when pgwarden has no record of them.
    """
    if conn.info.transaction_status != TransactionStatus.INTRANS:
        raise PgwardenError("apply_scoped runs inside the caller's transaction")
    if _ledger.schema_version(conn) == 0:
        return ()
    conn.execute("select pg_advisory_xact_lock(%s)", (APPLY_LOCK_KEY,))
    mark_applying(conn)
    done: list[Change] = []
    leaving = set(leaving)
    for owned in _ledger.read_ledger(conn).values():
        if owned.ref.relation in leaving:
            change = _removal(conn, owned)
            _execute(conn, change)
            done.append(change)
    if adopt:
        _adopt(conn, spec, features, tables, set(adopt))
    plan = build_plan(conn, spec, features, only=tables)
    for change in plan.changes:
        if change.action == "migrate" or change.ref is None:
            continue
        if change.ref.relation in leaving or (on is not None and change.ref.relation not in on):
            continue
        _execute(conn, change)
        done.append(change)
    return tuple(done)


def _adopt(
    conn: psycopg.Connection[Any],
    spec: Spec,
    features: Mapping[str, Feature],
    tables: Collection[QualifiedName],
    keys: set[str],
) -> None:
    from pgwarden.catalog import read_catalog

    ledger = _ledger.read_ledger(conn)
    scoped = replace(spec, tables={n: t for n, t in spec.tables.items() if n in tables})
    used = {name for t in scoped.tables.values() for name in t.features}
    state = {name: features[name].prepare(conn) for name in sorted(used)}
    wanted = desired_objects(
        scoped, read_catalog(conn), features, owned=frozenset(ledger), state=state, database=False
    )
    for key in sorted(keys & set(wanted) - set(ledger)):
        fingerprint = live_fingerprint(conn, wanted[key].ref)
        if fingerprint is not None:
            _ledger.record(conn, wanted[key], fingerprint)


def relation_replaced(
    conn: psycopg.Connection[Any],
    features: Mapping[str, Feature],
    old_oid: int,
    new: QualifiedName,
) -> None:
    """Tell every feature that the table of oid ``old_oid`` is being replaced by relation
    ``new`` (which takes its name in the same transaction): what a feature keeps by oid or
    attribute number follows it (see :meth:`Feature.relation_replaced`)."""
    for feature in features.values():
        feature.relation_replaced(conn, old_oid, new)


def ensure_streams(
    conn: psycopg.Connection[Any],
    spec: Spec,
    features: Mapping[str, Feature],
    names: Collection[str],
) -> None:
    """Bring the engine's stream and those of features ``names`` up to date, with their
    defined-once functions and views, under the apply lock (``conn`` in autocommit): for a
    feature's work outside apply that needs their state before any apply made it (a
    conversion keeps its progress in its feature's tables; its swap builds the others')."""
    wanted = [_streams.engine_stream()]
    wanted += [s for n in names if n in features and (s := features[n].stream()) is not None]
    bodies = {o.ref.key: o for s in wanted for o in s.objects()}
    take_apply_lock(conn, spec.database.lock_timeout)
    try:
        with conn.transaction():
            mark_applying(conn)
            _streams.migrate(conn, wanted)
            ledger = _ledger.read_ledger(conn)
            owned = {k: o for k, o in ledger.items() if k in bodies}
            for change in sorted(_changes(conn, bodies, owned), key=_order):
                _execute(conn, change)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (APPLY_LOCK_KEY,))
