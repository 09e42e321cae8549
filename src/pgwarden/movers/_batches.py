"""Row moves in batches: one page range of one table per transaction.

Every batch is a single statement — ``DELETE ... RETURNING`` feeding an ``INSERT`` — in its
own transaction, so a process killed at any moment leaves each row either where it was or
where it went, never in both or neither. Batches walk the table's pages in order (a TID range
scan), so each costs the same however many rows earlier batches already moved: no rescanning
of the dead rows they left behind, and no index needed on the time column.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors, sql

from pgwarden._names import QualifiedName
from pgwarden.errors import LockNotGranted, MaintenanceError

# One transaction's settings: the lock wait, and the context the audit trail records (the
# actor kept if the caller set one; pgwarden otherwise), for this transaction only. Moving a
# row out is a real DELETE even on a soft-deletable table (the row lives on in the archive):
# the privileged hard-delete path (soft delete's, there when its state is), or soft delete
# would only mark it and nothing would move.
_SETTINGS = (
    "select set_config('lock_timeout', %s, true), set_config('pgwarden.reason', %s, true), "
    "set_config('pgwarden.actor', "
    "coalesce(nullif(current_setting('pgwarden.actor', true), ''), 'pgwarden'), true), "
    "to_regprocedure('warden.allow_hard_delete()') is not null"
)
_HARD_DELETE = "select warden.allow_hard_delete()"
ACTOR = sql.SQL("current_setting('pgwarden.actor')")
"""archived_by: the transaction's actor, as :data:`_SETTINGS` left it."""


@dataclass(frozen=True)
class Settings:
    """How a mover's transactions behave."""

    reason: str
    """``pgwarden.reason`` for the batch transactions: the audit trail shows it."""
    lock_timeout_ms: int
    retries: int
    batch: int


@dataclass(frozen=True)
class Target:
    """Where moved rows go: ``table (columns + extra) SELECT columns + values FROM moved``."""

    table: QualifiedName
    columns: Sequence[str]
    extra: Sequence[tuple[str, sql.Composable]] = ()
    overriding: bool = False
    """``OVERRIDING SYSTEM VALUE``: identity columns keep their values (restores)."""


def in_transaction(
    conn: psycopg.Connection[Any],
    settings: Settings,
    work: Callable[[], int],
    *,
    what: str,
) -> int:
    """Run ``work`` in one transaction with ``settings``, retrying lock timeouts with backoff.

    Errors become :class:`MaintenanceError` naming ``what``; the failed transaction is rolled
    back, earlier ones stay committed.
    """
    for attempt in range(settings.retries + 1):
        try:
            with conn.transaction():
                row = conn.execute(
                    _SETTINGS, (str(settings.lock_timeout_ms), settings.reason)
                ).fetchone()
                if row and row[-1]:
                    conn.execute(_HARD_DELETE)
                return work()
        except errors.LockNotAvailable:
            if attempt == settings.retries:
                break
            time.sleep(min(30.0, 0.25 * 2**attempt) * random.uniform(0.5, 1.5))
        except errors.UniqueViolation as exc:
            raise MaintenanceError(
                f"{what}: {exc.diag.message_detail or exc.diag.message_primary}",
                hint="a row with this key is already on the other side; nothing of this batch "
                "was moved (restore or delete the other copy first)",
            ) from exc
        except psycopg.Error as exc:
            raise MaintenanceError(
                f"{what} failed: {exc.diag.message_primary or exc}",
                hint=exc.diag.message_hint,
            ) from exc
    raise LockNotGranted(
        f"{what}: a lock was not granted within lock_timeout={settings.lock_timeout_ms}ms "
        f"after {settings.retries + 1} attempts; earlier batches stay committed",
        hint="retry later, or raise [database] lock_timeout",
    )


Statement = Callable[[str, str], sql.Composed]
"""One batch's statement for a page range ``(lo, hi)`` given as tids (``"(10,0)"``)."""
EVERY_PAGE = ("(0,0)", f"({2**32 - 1},0)")


def move_statement(
    source: QualifiedName, alias: str, predicate: sql.Composable, target: Target | None
) -> Statement:
    """One batch: the unlocked rows of a page range matching ``predicate``, deleted from
    ``source`` and (unless ``target`` is None: a purge) inserted into ``target``.

    Everything is composed into the text, and run without parameters: the user's predicate
    (and key literals) may hold ``%`` signs that must not be read as placeholders.
    """
    return lambda lo, hi: _statement(source, alias, predicate, target, lo, hi)


def _statement(
    source: QualifiedName,
    alias: str,
    predicate: sql.Composable,
    target: Target | None,
    lo: str,
    hi: str,
) -> sql.Composed:
    a = sql.Identifier(alias)
    picked = sql.SQL(
        "SELECT {a}.ctid FROM {src} AS {a} WHERE {a}.ctid >= {lo}::tid "
        "AND {a}.ctid < {hi}::tid AND {pred} FOR UPDATE OF {a} SKIP LOCKED"
    ).format(a=a, src=source.ident, pred=predicate, lo=sql.Literal(lo), hi=sql.Literal(hi))
    delete = sql.SQL(
        "DELETE FROM {src} AS {a} WHERE {a}.ctid = ANY (ARRAY(SELECT ctid FROM picked))"
    ).format(a=a, src=source.ident)
    if target is None:
        return sql.SQL("WITH picked AS ({}) {}").format(picked, delete)
    cols = sql.SQL(", ").join(map(sql.Identifier, target.columns))
    names = [sql.Identifier(c) for c in target.columns] + [
        sql.Identifier(n) for n, _ in target.extra
    ]
    values = [sql.Identifier(c) for c in target.columns] + [v for _, v in target.extra]
    return sql.SQL(
        "WITH picked AS ({picked}), moved AS ({delete} RETURNING {cols}) "
        "INSERT INTO {dest} ({names}) {over}SELECT {values} FROM moved"
    ).format(
        picked=picked,
        delete=delete,
        cols=cols,
        dest=target.table.ident,
        names=sql.SQL(", ").join(names),
        over=sql.SQL("OVERRIDING SYSTEM VALUE " if target.overriding else ""),
        values=sql.SQL(", ").join(values),
    )


def run_batches(
    conn: psycopg.Connection[Any],
    source: QualifiedName,
    pages: int,
    statement: Statement,
    settings: Settings,
    *,
    what: str,
    on_batch: Callable[[int], None] | None = None,
    transact: Callable[[Callable[[], int]], int] | None = None,
) -> int:
    """Run ``statement`` over ``source``'s pages ``[0, pages)`` in ranges sized to move about
    ``settings.batch`` rows each; returns the rows moved.

    Rows appended beyond ``pages`` while this runs, and rows locked by other sessions, are left
    for the next run: a mover never waits on the application's row locks. Each batch runs in
    :func:`in_transaction`, or in ``transact(work)`` when given (another feature's own
    transaction wrapper; it must run ``work`` as one transaction).
    """
    row = conn.execute(
        "select reltuples, relpages from pg_class where oid = to_regclass(%s)",
        (source.regclass_text,),
    ).fetchone()
    per_page = row[0] / row[1] if row and row[0] > 0 and row[1] > 0 else 50.0
    base = max(1, int(settings.batch / max(per_page, 1.0)))
    step, start, moved = base, 0, 0
    while start < pages:
        lo, hi = f"({start},0)", f"({min(start + step, 2**32 - 1)},0)"

        def work(lo: str = lo, hi: str = hi) -> int:
            return conn.execute(statement(lo, hi)).rowcount

        n = transact(work) if transact else in_transaction(conn, settings, work, what=what)
        moved += n
        start += step
        if on_batch is not None:
            on_batch(n)
        # Aim at `batch` rows per transaction: grow over sparse pages (at most double, and at
        # most 16 times the first guess, so a dense stretch after a sparse one stays short).
        ideal = step * settings.batch / n if n else step * 2
        step = max(1, min(int(ideal), step * 2, base * 16))
    return moved
