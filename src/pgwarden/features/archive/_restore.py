"""Restore from the archive: rows move back to the live table, by key or by predicate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.catalog import Table
from pgwarden.errors import MaintenanceError
from pgwarden.features.archive._options import ArchiveOptions, archive_name
from pgwarden.features.archive._sql import check_predicate, trusted
from pgwarden.movers import (
    EVERY_PAGE,
    Settings,
    Target,
    in_transaction,
    leaves,
    move_statement,
    relkind,
    run_batches,
)


def restore(
    conn: psycopg.Connection[Any],
    table: Table,
    options: ArchiveOptions,
    *,
    key: Sequence[Any] | None = None,
    where: str | None = None,
    batch: int = 10_000,
    lock_timeout_ms: int = 5000,
    retries: int = 5,
    progress: Callable[[int, int | None], None] | None = None,
) -> int:
    """Move archived rows of ``table`` back into it; returns how many came back.

    ``key``: the values of one primary key (all its columns, in order). ``where``: a predicate
    on the archive table, which has the source's columns plus ``archived_at``, ``archived_by``
    and ``archive_reason`` (trusted SQL: the operator's own, checked by the server first).
    In batches of ``batch`` rows, one transaction each, like the mover: a kill loses nothing.
    A row whose key is live again stops the restore with :class:`MaintenanceError` (earlier
    batches stay restored). ``conn`` must be in autocommit.
    """
    if (key is None) == (where is None):
        raise MaintenanceError(f"{table.name}: restore needs a key or a where predicate, not both")
    target = archive_name(table.name, options)
    if relkind(conn, target) is None:
        raise MaintenanceError(f"{table.name}: archive table {target} does not exist")
    alias = table.name.name
    columns = [c.name for c in table.columns if not c.generated]
    back = Target(table.name, columns, overriding=True)
    settings = Settings("archive restore", lock_timeout_ms, retries, batch)
    what = f"restore {table.name} from {target}"
    if key is not None:
        pk = table.primary_key.columns if table.primary_key else ()
        if len(key) != len(pk):
            raise MaintenanceError(
                f"{table.name}: its key is ({', '.join(pk)}); {len(key)} value(s) given"
            )
        match = sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Literal(v))
            for c, v in zip(pk, key, strict=True)
        )
        statement = move_statement(target, alias, match, back)
        # One row through the primary key: one transaction.
        return in_transaction(
            conn, settings, lambda: conn.execute(statement(*EVERY_PAGE)).rowcount, what=what
        )
    assert where is not None
    problem = check_predicate(conn, target, where, alias)
    if problem is not None:
        raise MaintenanceError(f"{table.name}: where {where!r} is not a valid predicate: {problem}")
    done = 0

    def advanced(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, None)

    for leaf in leaves(conn, target):
        statement = move_statement(leaf.name, alias, trusted(where), back)
        run_batches(conn, leaf.name, leaf.pages, statement, settings, what=what, on_batch=advanced)
    return done
