"""A blueprint's Alembic migrations, run programmatically on a database URL (no alembic.ini).

Each blueprint keeps its revisions in ``migrations/versions/`` and its version table in its
own schema; its ``migrations/env.py`` is one call to :func:`run_online`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "head"


@dataclass(frozen=True)
class Migrations:
    """The migrations in ``directory`` of the blueprint ``title``, versioned in ``schema``."""

    directory: Path
    schema: str
    title: str

    # Alembic (and SQLAlchemy under it) load only when migrations run, not with the CLI.
    def _config(self, url: str, role: str | None = None) -> Config:
        from alembic.config import Config

        config = Config(stdout=io.StringIO())
        config.set_main_option("script_location", str(self.directory))
        config.attributes["url"] = url
        config.attributes["role"] = role
        return config

    def upgrade(self, url: str, revision: str = HEAD, *, role: str | None = None) -> None:
        """Bring the schema up to ``revision`` (default: the latest). ``role``: run the
        revisions as that role (``SET ROLE``; the schema's owner), so what they create is
        its, not the connecting user's."""
        from alembic import command

        command.upgrade(self._config(url, role), revision)

    def downgrade(self, url: str, revision: str = "base", *, role: str | None = None) -> None:
        """Take the schema back down to ``revision`` (default: nothing). Remove pgwarden's
        features from its tables first (the blueprint's ``teardown`` does both), or the
        ledger would list objects that are gone."""
        from alembic import command

        command.downgrade(self._config(url, role), revision)

    def current(self, url: str) -> str | None:
        """The revision the database is at (None: never migrated)."""
        table = sql.Identifier(self.schema, "alembic_version")
        with psycopg.connect(url) as conn:
            exists = conn.execute(
                "select to_regclass(%s)", (f"{self.schema}.alembic_version",)
            ).fetchone()
            if not exists or exists[0] is None:
                return None
            row = conn.execute(sql.SQL("select version_num from {}").format(table)).fetchone()
            return str(row[0]) if row else None


def run_online(schema: str, title: str) -> None:
    """The body of a blueprint's ``env.py``: run the pending revisions on the URL the
    :class:`Migrations` passed, in one transaction, with the version table in ``schema``."""
    from alembic import context
    from sqlalchemy import create_engine, pool
    from sqlalchemy import text as sa_text

    if context.is_offline_mode():  # pragma: no cover
        raise SystemExit(f"{title} migrations run online only: pass a database URL")
    url = context.config.attributes.get("url")
    role = context.config.attributes.get("role")
    assert url, f"the {title} migrations need a database URL"
    # Any libpq URL or conninfo string works: psycopg opens the connection itself.
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(url), poolclass=pool.NullPool
    )
    create = sql.SQL("create schema if not exists {}").format(sql.Identifier(schema))
    with engine.connect() as connection:
        connection.execute(sa_text(create.as_string(None)))
        if role:  # after the schema exists: the owner role need not create schemas
            as_role = sql.SQL("set role {}").format(sql.Identifier(role))
            connection.execute(sa_text(as_role.as_string(None)))
        connection.commit()
        context.configure(
            connection=connection, version_table_schema=schema, transactional_ddl=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
