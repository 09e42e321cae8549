"""Applying a plan: one runner at a time, short lock waits, retries, one transaction."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.engine import _ledger, _streams
from pgwarden.engine._change import Change, Plan
from pgwarden.engine._objects import live_fingerprint
from pgwarden.engine._plan import build_plan
from pgwarden.engine._streams import Stream
from pgwarden.errors import ApplyError, LockNotGranted, PgwardenError
from pgwarden.spec import Duration, Spec

if TYPE_CHECKING:
    from pgwarden.features import Feature

log = logging.getLogger("pgwarden.apply")

# One apply at a time per database: a session-level advisory lock on this key ("pgwarden").
APPLY_LOCK_KEY = 0x7067_7761_7264_656E

APPLYING = "pgwarden.applying"
"""The transaction-local setting that is ``on`` in pgwarden's apply (and in a scoped apply):
the public signal a feature's event trigger reads (``warden.applying()`` in SQL) to leave to
the plan the work the plan does itself."""


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    applied: tuple[Change, ...]
    attempts: int
    apply_id: int | None


def apply_plan(
    conn: psycopg.Connection[Any],
    spec: Spec,
    features: Mapping[str, Feature],
    *,
    expected: str | None = None,
    lock_timeout: Duration | None = None,
    retries: int | None = None,
    on_change: Callable[[Change], None] | None = None,
    version: str = "",
    only: Collection[QualifiedName] | None = None,
) -> ApplyResult:
    """Plan again under the apply lock and run the changes.

    ``conn`` must be in autocommit mode. ``expected`` is the fingerprint of the plan the user
    approved: if the database moved on since, nothing runs. Transactional changes run in one
    transaction; a lock not granted within ``lock_timeout`` rolls it back, waits with jittered
    backoff and tries again, up to ``retries`` times.
    """
    lock_timeout = lock_timeout or spec.database.lock_timeout
    retries = spec.database.retries if retries is None else retries
    if not conn.autocommit:
        raise PgwardenError("apply needs a connection in autocommit mode")
    take_apply_lock(conn, lock_timeout)
    try:
        for attempt in range(1, retries + 2):
            plan = build_plan(conn, spec, features, only=only)
            if plan.server.in_recovery:
                raise PgwardenError("the server is a standby (in recovery): apply on the primary")
            if expected is not None and plan.fingerprint != expected:
                raise ApplyError(
                    "the database changed since the plan was shown; nothing was applied",
                    hint="run `pgwarden plan` again and review it",
                )
            if plan.empty:
                return ApplyResult(plan, (), attempt, None)
            for feature in features.values():
                feature.before_apply(conn, spec)
            try:
                apply_id = _run(conn, plan, lock_timeout, retries, on_change, version)
            except pg_errors.LockNotAvailable as exc:
                blocked = getattr(exc, "pgwarden_change", None)
                if attempt > retries:
                    raise _lock_error(conn, blocked, lock_timeout, attempt) from None
                pause = _backoff(attempt)
                log.warning(
                    "lock not granted within %s (%s); retry %d/%d in %.1fs",
                    lock_timeout,
                    blocked.lock if blocked else "?",
                    attempt,
                    retries,
                    pause,
                )
                time.sleep(pause)
                continue
            for feature in features.values():
                feature.after_apply(conn, spec)
            return ApplyResult(plan, plan.changes, attempt, apply_id)
        raise AssertionError("unreachable")
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (APPLY_LOCK_KEY,))


def _run(
    conn: psycopg.Connection[Any],
    plan: Plan,
    lock_timeout: Duration,
    retries: int,
    on_change: Callable[[Change], None] | None,
    version: str,
) -> int:
    in_tx = [c for c in plan.changes if c.transactional]
    outside = [c for c in plan.changes if not c.transactional]
    timeout = sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(lock_timeout.milliseconds))
    with conn.transaction():
        conn.execute(timeout)
        mark_applying(conn)
        for change in in_tx:
            _execute(conn, change, plan.streams)
            if on_change:
                on_change(change)
        if not outside:
            return _ledger.log_apply(
                conn, version, plan.fingerprint, [c.to_json() for c in plan.changes]
            )
    # CREATE INDEX CONCURRENTLY and friends cannot run in a transaction block: each runs on
    # its own once the rest is committed, and a lock timeout retries that change alone (a
    # replan would no longer match the approved plan, part of which is now applied).
    for change in outside:
        _execute_alone(conn, change, plan, lock_timeout, retries)
        if on_change:
            on_change(change)
    with conn.transaction():
        return _ledger.log_apply(
            conn, version, plan.fingerprint, [c.to_json() for c in plan.changes]
        )


def _execute_alone(
    conn: psycopg.Connection[Any], change: Change, plan: Plan, lock_timeout: Duration, retries: int
) -> None:
    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(lock_timeout.milliseconds)))
    try:
        for attempt in range(1, retries + 2):
            try:
                _execute(conn, change, plan.streams)
                return
            except pg_errors.LockNotAvailable:
                if attempt > retries:
                    raise _lock_error(conn, change, lock_timeout, attempt) from None
                time.sleep(_backoff(attempt))
    finally:
        conn.execute("RESET lock_timeout")


def _backoff(attempt: int) -> float:
    """Exponential with jitter, so that retrying appliers and app traffic spread out."""
    return float(min(30.0, 0.25 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5))


def mark_applying(conn: psycopg.Connection[Any]) -> None:
    """Mark the current transaction as pgwarden's apply (see :data:`APPLYING`)."""
    conn.execute("SELECT set_config(%s, 'on', true)", (APPLYING,))


def _execute(conn: psycopg.Connection[Any], change: Change, streams: Sequence[Stream] = ()) -> None:
    if change.action == "migrate":
        _streams.migrate(conn, list(streams))
        return
    for statement in change.statements:
        try:
            conn.execute(statement)
        except pg_errors.LockNotAvailable as exc:
            exc.pgwarden_change = change  # type: ignore[attr-defined]
            raise
        except psycopg.Error as exc:
            raise ApplyError(
                f"{change.description}: {exc.diag.message_primary or exc}",
                statement=statement.as_string(None),
                hint=exc.diag.message_hint,
            ) from exc
    desired = change.desired
    if desired is not None and desired.secret is not None and desired.create in change.statements:
        try:
            conn.execute(desired.secret(conn))
        except psycopg.Error as exc:
            # No statement in the error: it carries the secret's verifier.
            raise ApplyError(
                f"{change.description}: {exc.diag.message_primary or type(exc).__name__}"
            ) from None
    if change.desired is not None:
        fingerprint = live_fingerprint(conn, change.desired.ref)
        if fingerprint is None:
            raise ApplyError(f"{change.description}: the object is missing after creation")
        _ledger.record(conn, change.desired, fingerprint)
    elif change.ref is not None:
        _ledger.forget(conn, change.ref)


def take_apply_lock(conn: psycopg.Connection[Any], wait: Duration) -> None:
    deadline = time.monotonic() + max(wait.seconds, 0.1)
    while True:
        row = conn.execute("select pg_try_advisory_lock(%s)", (APPLY_LOCK_KEY,)).fetchone()
        if row and row[0]:
            return
        if time.monotonic() >= deadline:
            holder = conn.execute(
                """select a.pid, a.usename, a.application_name from pg_locks l
                   join pg_stat_activity a using (pid)
                   where l.locktype = 'advisory' and l.granted
                     and (l.classid::bigint << 32 | l.objid::bigint) = %s""",
                (APPLY_LOCK_KEY & 0xFFFF_FFFF_FFFF_FFFF,),
            ).fetchone()
            who = (
                ""
                if holder is None
                else f" (pid {holder[0]}, user {holder[1]}, {holder[2] or 'no application'})"
            )
            raise LockNotGranted(
                "another pgwarden apply is running on this database" + who,
                hint="wait for it to finish, then plan again",
            )
        time.sleep(0.1)


def _lock_error(
    conn: psycopg.Connection[Any], change: Change | None, timeout: Duration, attempts: int
) -> LockNotGranted:
    wanted = str(change.lock) if change else "a lock"
    what = change.description if change else "the plan"
    holders = ""
    if change and change.lock.relation:
        rows = conn.execute(
            """select distinct a.pid, a.usename, coalesce(a.application_name, ''), a.state,
                      extract(epoch from now() - a.xact_start)::int, left(a.query, 80)
               from pg_locks l join pg_stat_activity a using (pid)
               where l.relation = to_regclass(%s) and l.granted and a.pid <> pg_backend_pid()""",
            (change.lock.relation.regclass_text,),
        ).fetchall()
        holders = "; ".join(
            f"pid {r[0]} ({r[1]}, {r[2] or 'no application'}, {r[3]} for {r[4]}s: {r[5]!r})"
            for r in rows
        )
    message = (
        f"could not get {wanted} within lock_timeout={timeout} after {attempts} attempts "
        f"({what}); nothing was applied"
    )
    return LockNotGranted(
        message + (f"; held by {holders}" if holders else ""),
        hint="retry when the table is quieter, or raise [database] lock_timeout / retries",
    )
