"""``warden.soft_delete``: restore, hard delete, purge and the foreign-key policy, from Python."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from pgwarden._names import QualifiedName
from pgwarden.catalog import read_catalog
from pgwarden.errors import ForeignKeyError
from pgwarden.features._base import FeatureAPI
from pgwarden.features.soft_delete import _runtime
from pgwarden.features.soft_delete._foreign_keys import CascadeKey, cascading_keys, restrict
from pgwarden.features.soft_delete._runtime import KeyLike, Restored
from pgwarden.maintenance import JobResult


class SoftDeleteAPI(FeatureAPI):
    """Soft-deleted rows of a :class:`~pgwarden.Warden`'s database: ``warden.soft_delete``."""

    def restore(self, table: str, key: KeyLike, *, actor: str | None = None) -> Restored:
        """Bring a soft-deleted row back, with exactly the rows its delete cascaded to (rows
        deleted separately stay deleted). Refuses, changing nothing, when the row references
        a row that is still deleted. A live row is left as is (``Restored.total == 0``)."""
        with self.warden.session(actor=actor, reason="restore") as db:
            return _runtime.restore(db.connection, self.warden.spec, table, key)

    def hard_delete(self, table: str, key: KeyLike, *, actor: str | None = None) -> int:
        """Really delete one row of a soft-deletable table (foreign keys act as declared).
        Needs EXECUTE on ``warden.allow_hard_delete()``; returns the rows deleted."""
        with self.warden.session(actor=actor, reason="hard delete") as db:
            return _runtime.hard_delete(db.connection, self.warden.spec, table, key)

    def purge(
        self,
        *,
        only: Collection[QualifiedName] | None = None,
        dry_run: bool = False,
        now: dt.datetime | None = None,
        batch: int = 10_000,
    ) -> list[JobResult]:
        """Hard-delete rows soft-deleted longer ago than their table's ``purge`` age, in
        batches (the ``purge`` jobs of ``warden.maintain``)."""
        return self.warden.maintain(
            only=only, names=["purge"], dry_run=dry_run, now=now, batch=batch
        )

    def cascading_keys(self) -> list[CascadeKey]:
        """ON DELETE CASCADE foreign keys into tables that keep history (declare audit,
        versioning, soft_delete or archive): deleting a parent silently deletes them."""
        return cascading_keys(self.warden.catalog(), self.warden.spec, self.warden.features)

    def restrict_foreign_key(self, table: str, constraint: str) -> bool:
        """Convert one ON DELETE CASCADE key of ``table`` to RESTRICT, online: added NOT
        VALID, validated while writes go on, swapped in a short transaction (lock_timeout
        and retries from the declaration). Safe to run again after an interruption; returns
        False when the key was RESTRICT already."""
        name = QualifiedName.parse(table)
        with self.warden.connect(autocommit=True) as conn:
            found = read_catalog(conn).get(name)
            fks = found.foreign_keys if found else ()
            fk = next((f for f in fks if f.name == constraint), None)
            if fk is None:
                raise ForeignKeyError(f"{name} has no foreign key {constraint!r}")
            if fk.on_delete == "RESTRICT":
                return False
            if fk.on_delete != "CASCADE":
                raise ForeignKeyError(f"{name} {constraint} is ON DELETE {fk.on_delete}")
            restrict(conn, self.warden.spec, fk)
            return True
