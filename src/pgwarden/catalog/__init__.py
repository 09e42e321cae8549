"""What the database has: ``pg_catalog`` introspection, version-aware for PostgreSQL 14-18."""

from pgwarden.catalog._introspect import read_catalog, read_server
from pgwarden.catalog._model import (
    Catalog,
    Column,
    ForeignKey,
    Index,
    Key,
    ServerInfo,
    Table,
    Trigger,
)

__all__ = [
    "Catalog",
    "Column",
    "ForeignKey",
    "Index",
    "Key",
    "ServerInfo",
    "Table",
    "Trigger",
    "read_catalog",
    "read_server",
]
