"""Erasing personal data from the audit history: one row's columns, from every event and
checkpoint, under every key and name they had, recorded without the values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from pgwarden.errors import AuditError
from pgwarden.features.audit._runtime import KeyLike, key_json, qualified


@dataclass(frozen=True)
class Erasure:
    """What :meth:`pgwarden.features.audit.Audit.erase` did (recorded in
    ``warden.audit_erasures``, without the values)."""

    erasure_id: int
    keys: list[Any]
    """Every key the row had (its key moves followed)."""
    columns: list[str]
    """Every name the erased columns had (renames followed)."""
    events: int
    """Events whose images lost those columns, hot and archived."""
    checkpoint_rows: int
    """Rows of the table's checkpoints whose values were set to NULL."""


def erase(
    conn: psycopg.Connection[Any], table: str, key: KeyLike, columns: Sequence[str] | None
) -> Erasure:
    """Erase ``columns`` (None: all but the key) of one row from the history, in the caller's
    transaction."""
    k = key_json(conn, table, key)
    try:
        row = conn.execute(
            "select erasure_id, row_keys, columns, events, checkpoint_rows "
            "from warden.audit_erase(%s, %s, %s)",
            (qualified(table), k, list(columns) if columns is not None else None),
        ).fetchone()
    except psycopg.Error as exc:
        raise AuditError(
            f"cannot erase {table} {key!r}: {exc.diag.message_primary or exc}",
            hint=exc.diag.message_hint,
        ) from exc
    assert row is not None
    return Erasure(int(row[0]), list(row[1]), list(row[2]), int(row[3]), int(row[4]))
