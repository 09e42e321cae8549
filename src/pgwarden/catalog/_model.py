"""What the database has, as plain immutable values (no connection needed to read them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pgwarden._names import QualifiedName, closest


@dataclass(frozen=True)
class ServerInfo:
    version_num: int
    """``server_version_num``: 150004 for 15.4."""
    version: str
    database: str
    user: str
    is_superuser: bool
    in_recovery: bool
    """True on a standby: pgwarden changes nothing there."""
    shared_preload_libraries: tuple[str, ...]
    extensions: dict[str, str]
    """Installed extensions and their versions."""
    available_extensions: frozenset[str]
    wal_level: str = "replica"
    can_replicate: bool = False
    """Superuser or REPLICATION: may read a logical replication slot."""
    available_versions: dict[str, str] = field(default_factory=dict)
    """The version CREATE EXTENSION would install, by extension."""

    @property
    def major(self) -> int:
        return self.version_num // 10000


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    """As ``format_type`` shows it, e.g. ``timestamp with time zone``."""
    type_oid: int
    not_null: bool
    default: str | None
    generated: bool
    identity: bool
    position: int
    virtual: bool = False
    """A virtual generated column (PostgreSQL 18): computed when read, so in no trigger's
    row (NULL there) and never in the WAL."""


@dataclass(frozen=True)
class Key:
    """A primary key or unique constraint."""

    name: str
    columns: tuple[str, ...]
    primary: bool
    deferrable: bool


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: QualifiedName
    columns: tuple[str, ...]
    references: QualifiedName
    referenced_columns: tuple[str, ...]
    on_delete: str
    """``NO ACTION``, ``RESTRICT``, ``CASCADE``, ``SET NULL`` or ``SET DEFAULT``."""
    on_update: str
    deferrable: bool
    validated: bool


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    """Plain column names; an expression column appears as its expression text."""
    unique: bool
    primary: bool
    partial: bool
    valid: bool
    nulls_not_distinct: bool
    """PostgreSQL 15+; always False before."""
    definition: str


@dataclass(frozen=True)
class Trigger:
    name: str
    function: str
    enabled: str
    """``O`` origin, ``D`` disabled, ``R`` replica, ``A`` always (as in ``pg_trigger``)."""
    definition: str


@dataclass(frozen=True)
class Table:
    oid: int
    name: QualifiedName
    kind: str
    """``table`` or ``partitioned table``."""
    owner: str
    columns: tuple[Column, ...]
    primary_key: Key | None
    unique_keys: tuple[Key, ...]
    foreign_keys: tuple[ForeignKey, ...]
    """Foreign keys of this table, pointing elsewhere."""
    referenced_by: tuple[ForeignKey, ...]
    """Foreign keys of other tables pointing here."""
    indexes: tuple[Index, ...]
    triggers: tuple[Trigger, ...]
    rls_enabled: bool
    rls_forced: bool
    partition_of: QualifiedName | None
    partition_key: str | None
    """``pg_get_partkeydef``, e.g. ``RANGE (entry_date)``, for a partitioned table."""
    estimated_rows: int

    @property
    def is_partitioned(self) -> bool:
        return self.kind == "partitioned table"

    def column(self, name: str) -> Column | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True)
class Catalog:
    """A snapshot of the server and its user tables (pgwarden's own ``warden`` schema excluded)."""

    server: ServerInfo
    tables: dict[QualifiedName, Table] = field(default_factory=dict)

    def get(self, name: QualifiedName) -> Table | None:
        return self.tables.get(name)

    def closest_table(self, name: QualifiedName) -> QualifiedName | None:
        """The existing table most like ``name`` (for "did you mean ...?")."""
        by_text = {str(t): t for t in self.tables}
        hit = closest(str(name), by_text)
        if hit is None:
            same_name = [t for t in self.tables if t.name == name.name]
            return same_name[0] if len(same_name) == 1 else None
        return by_text[hit]
