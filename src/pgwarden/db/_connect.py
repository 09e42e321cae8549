"""Connections: opening them with a clear error, and URLs that never show a password."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import conninfo

from pgwarden.errors import DatabaseUnavailable

APPLICATION_NAME = "pgwarden"


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (URL and key=value forms alike)."""
    if "://" in url:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparsable connection string>"
    if "password" in params:
        params["password"] = "***"
    return " ".join(f"{k}={v}" for k, v in params.items())


def connect(
    url: str, *, autocommit: bool = False, application_name: str = APPLICATION_NAME, **kw: Any
) -> psycopg.Connection[Any]:
    """Open a connection, or raise :class:`DatabaseUnavailable` naming the (redacted) URL."""
    try:
        return psycopg.connect(url, autocommit=autocommit, application_name=application_name, **kw)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "no reason given"
        raise DatabaseUnavailable(
            f"cannot connect to {redact_url(url)}: {reason}",
            hint="check [database] url in pgwarden.toml, PGWARDEN_DATABASE_URL or DATABASE_URL",
        ) from None
