"""What the Python API and the CLI call: restore by table name, from the declaration."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from pgwarden._names import QualifiedName
from pgwarden.catalog import read_catalog
from pgwarden.errors import MaintenanceError
from pgwarden.features.archive._options import ArchiveOptions
from pgwarden.features.archive._restore import restore
from pgwarden.spec import Spec


def declared_options(spec: Spec, name: QualifiedName) -> ArchiveOptions:
    """The ``archive`` options declared for ``name``, or a clear error."""
    table_spec = spec.tables.get(name)
    options = table_spec.features.get("archive") if table_spec else None
    if not isinstance(options, ArchiveOptions):
        raise MaintenanceError(
            f"{name}: no archive is declared for it in {spec.file}",
            hint=f'declare [tables."{name}"] archive = {{ after = "...", column = "..." }}',
        )
    return options


def restore_declared(
    conn: psycopg.Connection[Any],
    spec: Spec,
    table: str,
    *,
    key: Any = None,
    where: str | None = None,
    batch: int = 10_000,
    progress: Callable[[int, int | None], None] | None = None,
) -> int:
    """:func:`restore` for a table named as the user writes it (``schema.table``)."""
    name = QualifiedName.parse(table)
    options = declared_options(spec, name)
    live = read_catalog(conn).get(name)
    if live is None:
        raise MaintenanceError(f"{name}: no such table in this database")
    parts: Sequence[Any] | None = None
    if key is not None:
        parts = tuple(key) if isinstance(key, (tuple, list)) else (key,)
    return restore(
        conn,
        live,
        options,
        key=parts,
        where=where,
        batch=batch,
        lock_timeout_ms=spec.database.lock_timeout.milliseconds,
        retries=spec.database.retries,
        progress=progress,
    )
