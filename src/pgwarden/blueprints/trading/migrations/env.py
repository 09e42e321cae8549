"""Alembic environment of the Trading blueprint: online only, on the URL given by
:mod:`pgwarden.blueprints.trading._migrate` (no alembic.ini)."""

from pgwarden.blueprints._alembic import run_online

run_online("trading", "Trading")
