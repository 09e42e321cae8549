"""Alembic environment of the Kitaab blueprint: online only, on the URL given by
:mod:`pgwarden.blueprints.kitaab._migrate` (no alembic.ini)."""

from pgwarden.blueprints._alembic import run_online

run_online("kitaab", "Kitaab")
