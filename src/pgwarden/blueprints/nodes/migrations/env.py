"""Alembic environment of the nodes blueprint: online only, on the URL given by
:mod:`pgwarden.blueprints.nodes._migrate` (no alembic.ini)."""

from pgwarden.blueprints._alembic import run_online

run_online("nodes", "Nodes")
