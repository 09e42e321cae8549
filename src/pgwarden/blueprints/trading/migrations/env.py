"""Alembic environment of the Trading blueprint: online only, on the connection or URL given
by :mod:`pgwarden.blueprints.trading._migrate` (no alembic.ini)."""

from __future__ import annotations

import psycopg
from alembic import context
from sqlalchemy import create_engine, pool, text

SCHEMA = "trading"
config = context.config


def run() -> None:
    url = config.attributes.get("url")
    assert url, "the Trading migrations need a database URL"
    # Any libpq URL or conninfo string works: psycopg opens the connection itself.
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(url), poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        connection.execute(text(f"create schema if not exists {SCHEMA}"))
        connection.commit()
        context.configure(
            connection=connection,
            version_table_schema=SCHEMA,
            transactional_ddl=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():  # pragma: no cover
    raise SystemExit("Trading migrations run online only: pass a database URL")
run()
