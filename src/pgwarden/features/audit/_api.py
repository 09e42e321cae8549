"""``warden.audit``: the audit trail, time travel and revert, from Python."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from pgwarden.features._base import FeatureAPI
from pgwarden.features.audit import _runtime as audit
from pgwarden.features.audit._erase import Erasure, erase
from pgwarden.features.audit._runtime import Event, KeyLike, Version
from pgwarden.features.audit._wal import Ingested, ingest


def when(value: dt.datetime | str) -> dt.datetime:
    """A time from a datetime or an ISO 8601 string; naive times are taken as UTC."""
    at = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


class AuditAPI(FeatureAPI):
    """The audit trail of a :class:`~pgwarden.Warden`'s database: ``warden.audit``.

    Reads go through the ``Warden``'s pool. Tables captured from the WAL
    (``capture = "wal"``) have their committed changes ingested first, so every read sees
    every committed change.
    """

    def ingest(self) -> Ingested:
        """Write the events of every transaction committed so far on tables captured from the
        WAL. The reads below call it first; the worker and ``pgwarden audit ingest`` call it
        for SQL readers."""
        with self.warden.connect(autocommit=True) as conn:
            return ingest(conn)

    def follow(
        self,
        *,
        stop: Callable[[], bool],
        progress: Callable[[Ingested], None] | None = None,
    ) -> Ingested:
        """Stream the WAL and write its events as transactions commit, until ``stop()`` is
        true (checked at least every second): what ``pgwarden audit ingest --follow`` runs.
        While it runs, :meth:`ingest` waits for it instead of reading the slot itself."""
        from pgwarden.features.audit._wal_stream import follow

        return follow(self.warden.url, stop=stop, progress=progress)

    def _fresh(self) -> None:
        from pgwarden.features.audit import wal_possible  # the feature's module imports this one

        if wal_possible(self.warden.spec):
            self.ingest()

    def history(self, table: str, key: KeyLike) -> list[Version]:
        """Every version of one row of an audited table, oldest first: values, validity
        range, operation, who and why. ``key`` is the key value (a tuple for composite keys).
        Version 0, when present, is the row as it was before auditing began."""
        self._fresh()
        with self.warden.pool.connection() as conn:
            return audit.history(conn, table, key)

    def as_of(self, table: str, at: dt.datetime | str) -> list[dict[str, Any]]:
        """The whole table as it was at ``at``, one dict per row."""
        self._fresh()
        with self.warden.pool.connection() as conn:
            return audit.as_of(conn, table, when(at))

    def diff(
        self, table: str, key: KeyLike, old: int, new: int | None = None
    ) -> dict[str, tuple[Any, Any]]:
        """``{column: (old value, new value)}`` between two versions of a row."""
        self._fresh()
        with self.warden.pool.connection() as conn:
            return audit.diff(conn, table, key, old, new)

    def revert(
        self,
        table: str,
        key: KeyLike,
        *,
        to: int | dt.datetime | str,
        actor: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any] | None:
        """Put one row back as it was in version ``to`` (an int) or at time ``to``: updated,
        deleted, or brought back (undelete). The revert is itself audited, with ``actor``
        and ``reason``. Returns the restored values (None: the row is now absent)."""
        target: int | dt.datetime = to if isinstance(to, int) else when(to)
        why = reason or f"revert {table} {key!r} to {to}"
        self._fresh()
        with self.warden.session(actor=actor, reason=why) as db:
            return audit.revert(db.connection, table, key, target)

    def revert_transaction(
        self, txid: int, *, actor: str | None = None, reason: str | None = None
    ) -> list[tuple[str, Any, str]]:
        """Undo everything transaction ``txid`` changed, in one new (audited) transaction.
        Refuses, changing nothing, when a later transaction changed the same rows."""
        why = reason or f"revert transaction {txid}"
        self._fresh()
        with self.warden.session(actor=actor, reason=why) as db:
            return audit.revert_transaction(db.connection, txid)

    def erase(
        self,
        table: str,
        key: KeyLike,
        *,
        columns: Sequence[str] | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> Erasure:
        """Erase personal data of one row from the history (a right-to-erasure request):
        ``columns`` (None: every column but the key) leave every image of the row's events,
        hot and archived, under every key it had and every name the columns had, and its
        values in the table's checkpoints become NULL. History, time travel and the feed
        then show those columns as unknown. Recorded, with ``actor`` and ``reason`` but never
        the values, in ``warden.audit_erasures``. The live row is the application's to delete
        or update; erase after that, so no later change records the values again. Needs the
        admin role (or the store's owner)."""
        why = reason or f"erase {table} {key!r}"
        self._fresh()
        with self.warden.session(actor=actor, reason=why) as db:
            return erase(db.connection, table, key, columns)

    def changes(
        self, after: tuple[int, int] = (0, 0), *, limit: int = 1000, table: str | None = None
    ) -> list[Event]:
        """The change feed: events after position ``after`` in a stable order that never
        skips a transaction committing late. Resume with the last event's ``position``."""
        self._fresh()
        with self.warden.pool.connection() as conn:
            return audit.changes(conn, after, limit=limit, table=table)

    def log(
        self,
        *,
        table: str | None = None,
        actor: str | None = None,
        since: dt.datetime | str | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Recent audit events, newest first."""
        self._fresh()
        with self.warden.pool.connection() as conn:
            return audit.log(
                conn,
                table=table,
                actor=actor,
                since=when(since) if since is not None else None,
                limit=limit,
            )

    def prune(self, *, batch: int = 10_000) -> int:
        """Delete audit events older than each table's ``retention``, in batches of
        ``batch`` (each its own short transaction); returns how many were deleted."""
        with self.warden.connect(autocommit=True) as conn:
            return audit.prune(conn, batch=batch)
