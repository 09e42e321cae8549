"""Run the blueprint's Alembic migrations programmatically, on a given database URL."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "head"


def _config(url: str, output: io.StringIO | None = None) -> Config:
    config = Config(stdout=output or io.StringIO())
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = HEAD) -> None:
    """Bring the Trading schema up to ``revision`` (default: the latest)."""
    command.upgrade(_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Take the Trading schema back down to ``revision`` (default: nothing).

    Remove pgwarden's features from the tables first (:func:`pgwarden.blueprints.trading.
    teardown` does both), or the ledger would list objects that are gone.
    """
    command.downgrade(_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with psycopg.connect(url) as conn:
        exists = conn.execute("select to_regclass('trading.alembic_version')").fetchone()
        if not exists or exists[0] is None:
            return None
        row = conn.execute("select version_num from trading.alembic_version").fetchone()
        return str(row[0]) if row else None
