"""Applying a finding's fix as pgwarden applies its own changes: every lock waited for at
most ``[database] lock_timeout``, retried with jittered backoff up to ``retries`` times;
``CONCURRENTLY`` statements outside a transaction; the INVALID index a failed concurrent
build leaves behind dropped before the next attempt (and after the last one)."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.errors import ApplyError, LockNotGranted
from pgwarden.ops.monitor._model import Finding, Fix
from pgwarden.spec import Spec

_BUILD = re.compile(
    r"^CREATE (?:UNIQUE )?INDEX CONCURRENTLY (?:IF NOT EXISTS )?(?P<name>\S+) ON (?:ONLY )?"
    r"(?P<table>\S+)",
    re.IGNORECASE,
)
_REBUILD = re.compile(r"^REINDEX INDEX CONCURRENTLY (?P<index>\S+)", re.IGNORECASE)


def _leftovers(conn: psycopg.Connection[Any], statement: str) -> list[str]:
    """INVALID indexes a failed ``statement`` may have left (as regclass text)."""
    if m := _BUILD.match(statement):
        found = conn.execute(
            """select i.indexrelid::regclass::text from pg_index i
                 join pg_class c on c.oid = i.indexrelid
                where i.indrelid = %s::regclass and c.relname = %s and not i.indisvalid""",
            (m.group("table"), m.group("name").strip('"')),
        ).fetchall()
    elif m := _REBUILD.match(statement):
        # REINDEX CONCURRENTLY builds <name>_ccnew (then swaps); a failure leaves it invalid.
        found = conn.execute(
            """select i.indexrelid::regclass::text from pg_index i
                 join pg_class c on c.oid = i.indexrelid
                where i.indrelid = (select indrelid from pg_index
                                     where indexrelid = %s::regclass)
                  and c.relname ~ '_ccnew[0-9]*$' and not i.indisvalid""",
            (m.group("index"),),
        ).fetchall()
    else:
        return []
    return [r[0] for r in found]


def _cleanup(conn: psycopg.Connection[Any], statement: str) -> list[str]:
    """Drop what a failed concurrent build left; returns what could not be dropped yet (the
    drop waits for the same transactions the build waited for)."""
    left = []
    for index in _leftovers(conn, statement):
        try:
            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.SQL(index)))
        except psycopg.errors.LockNotAvailable:
            left.append(index)
    return left


def _attempts(
    spec: Spec, what: str, run: Callable[[], None], clean: Callable[[], list[str]]
) -> None:
    """Run ``run`` until it gets its locks within lock_timeout, at most ``retries`` + 1
    times. ``clean`` drops what a failed attempt left and returns what it could not drop
    yet; an attempt only starts on a clean slate (``IF NOT EXISTS`` would otherwise take an
    INVALID leftover for the index)."""
    retries = spec.database.retries
    for attempt in range(retries + 1):
        left = clean()
        if not left:
            try:
                run()
                return
            except psycopg.errors.LockNotAvailable:
                left = clean()
        if attempt == retries:
            hint = "find what holds it with pgwarden top, or raise [database] lock_timeout"
            if left:
                hint += (
                    f"; the INVALID index {', '.join(left)} left by the failed concurrent "
                    "build is dropped by the next run before it builds again"
                )
            raise LockNotGranted(
                f"{what}: a lock was not granted within "
                f"{spec.database.lock_timeout} after {retries + 1} attempts",
                hint=hint,
            )
        time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))


def _steps(
    conn: psycopg.Connection[Any], statement: str
) -> tuple[Callable[[], None], Callable[[], list[str]]]:
    def run() -> None:
        conn.execute(sql.SQL(statement))

    return run, lambda: _cleanup(conn, statement)


def apply_fix(conn: psycopg.Connection[Any], spec: Spec, fix: Fix, what: str) -> None:
    """Run one fix (``conn`` in autocommit)."""
    timeout = f"{spec.database.lock_timeout.milliseconds}ms"
    try:
        if fix.transactional:

            def once() -> None:
                with conn.transaction():
                    conn.execute("select set_config('lock_timeout', %s, true)", (timeout,))
                    for statement in fix.statements:
                        conn.execute(sql.SQL(statement))

            _attempts(spec, what, once, list)
            return
        conn.execute("select set_config('lock_timeout', %s, false)", (timeout,))
        try:
            for statement in fix.statements:
                run, clean = _steps(conn, statement)
                _attempts(spec, what, run, clean)
        finally:
            conn.execute("reset lock_timeout")
    except psycopg.Error as exc:
        failed = getattr(exc.diag, "message_primary", None) or str(exc)
        raise ApplyError(f"{what}: {failed}", statement="; ".join(fix.statements)) from exc


def apply_fixes(conn: psycopg.Connection[Any], spec: Spec, findings: Sequence[Finding]) -> None:
    """Apply the fixes of ``findings`` in order, each on its own (a failure stops there)."""
    for finding in findings:
        if finding.fix is not None:
            apply_fix(conn, spec, finding.fix, f"{finding.check} {finding.object}")
