"""Options of the ``archive`` feature, as written in ``pgwarden.toml``, and the names they imply."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from pgwarden._names import MAX_IDENTIFIER, QualifiedName
from pgwarden.spec import DurationField, FeatureOptions

ARCHIVE_SCHEMA = "archive"
FIXED_COLUMNS = ("archived_at", "archived_by", "archive_reason")
"""Columns every archive table has besides the source's."""
LOCATION_COLUMN = "row_location"
"""The union view's column saying where a row lives: ``live`` or ``archive``."""


class ArchiveOptions(FeatureOptions):
    """``archive = { after = "2 years", column = "entry_date" }``.

    ``where`` is SQL from the declaration file, the user's own trusted configuration (like a
    migration). It is checked by the server (``EXPLAIN`` in a rolled-back, read-only
    transaction) when planning, and only then composed into the mover's statements.
    """

    after: DurationField
    """Rows whose ``column`` is older than this are moved to the archive."""
    column: str
    """The row's time: ``date``, ``timestamp``, ``timestamptz``, or an integer of Unix seconds."""
    where: str | None = None
    """An extra SQL predicate on the source table: only rows matching it are archived."""
    retention: DurationField | None = None
    """Archived rows whose ``column`` is older than this are deleted (``archive-retention``)."""
    table: str | None = None
    """The archive table (``schema.name``); default ``archive.<table>`` (``<schema>__<table>``
    for a table outside ``public``)."""

    @field_validator("where")
    @classmethod
    def _one_predicate(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("where is empty: leave it out to archive every old row")
        if ";" in value:
            # One predicate, never a second statement: the check below would not see it.
            raise ValueError("where must be one SQL predicate, without ';'")
        return value

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is not None:
            QualifiedName.parse(value, default_schema=ARCHIVE_SCHEMA)  # raises a clear ValueError
        return value

    @model_validator(mode="after")
    def _retention_after(self) -> ArchiveOptions:
        if self.retention is not None and self.retention.seconds <= self.after.seconds:
            raise ValueError(
                f"retention ({self.retention}) must be longer than after ({self.after}): "
                "rows would be deleted before or as soon as they are archived"
            )
        return self


def archive_name(source: QualifiedName, options: ArchiveOptions) -> QualifiedName:
    """Where ``source``'s archived rows live."""
    if options.table is not None:
        return QualifiedName.parse(options.table, default_schema=ARCHIVE_SCHEMA)
    name = source.name if source.schema == "public" else f"{source.schema}__{source.name}"
    return QualifiedName(ARCHIVE_SCHEMA, _fit(name))


def view_name(source: QualifiedName) -> QualifiedName:
    """The union of live and archived rows, beside the source table."""
    return QualifiedName(source.schema, _fit(source.name, "__all"))


def key_name(archive: QualifiedName) -> str:
    return _fit(archive.name, "_pkey")


def _fit(name: str, suffix: str = "") -> str:
    room = MAX_IDENTIFIER - len(suffix.encode())
    return name.encode()[:room].decode(errors="ignore") + suffix
