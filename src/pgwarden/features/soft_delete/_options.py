"""Options of the ``soft_delete`` feature, as written in ``pgwarden.toml``."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from pgwarden.spec import DurationField, FeatureOptions


class SoftDeleteOptions(FeatureOptions):
    """``soft_delete = true`` or ``soft_delete = { purge = "90 days", rls = true }``."""

    column: str = "deleted_at"
    """When the row was deleted (NULL: live). An existing timestamp column is adopted."""
    by: str = "deleted_by"
    """Who deleted it (``pgwarden.actor``, else the login role); ``""`` to not record it."""
    deletion: str = "deletion_id"
    """Which delete removed it: rows a cascade marked share their parent's number."""
    unique: Literal["live", "all"] = "live"
    """``live``: unique constraints hold among live rows only (converted to partial unique
    indexes), so a deleted email can be registered again; ``all``: left as they are."""
    live_view: bool = True
    """Create ``<table>__live``: the live rows; a DELETE through it reports its row count."""
    rls: bool = False
    """Hide deleted rows from every role but the table's owner with row-level security."""
    restrict: bool = True
    """RESTRICT / NO ACTION keys into the table refuse a soft delete while live rows
    reference the row, as they would a real delete; ``false``: soft deletes pass them (the
    row stays, so the keys still hold; a real delete is still refused by the key)."""
    purge: DurationField | None = None
    """Rows deleted longer ago than this are really deleted by ``pgwarden purge``/``maintain``."""

    @model_validator(mode="after")
    def _distinct(self) -> SoftDeleteOptions:
        names = [n for n in (self.column, self.by, self.deletion) if n]
        if len(set(names)) != len(names):
            raise ValueError("column, by and deletion must name different columns")
        if not self.column or not self.deletion:
            raise ValueError("column and deletion cannot be empty")
        return self
