"""Run the nodes blueprint's Alembic migrations programmatically, on a given database URL."""

from __future__ import annotations

from pathlib import Path

from pgwarden.blueprints._alembic import HEAD, Migrations

MIGRATIONS = Migrations(Path(__file__).parent / "migrations", schema="nodes", title="Nodes")

upgrade = MIGRATIONS.upgrade
downgrade = MIGRATIONS.downgrade
current = MIGRATIONS.current

__all__ = ["HEAD", "MIGRATIONS", "current", "downgrade", "upgrade"]
