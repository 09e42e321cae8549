"""Alembic environment of the workspace blueprint: online only, on the URL given by
:mod:`pgwarden.blueprints.workspace._migrate` (no alembic.ini)."""

from pgwarden.blueprints._alembic import run_online

run_online("workspace", "Workspace")
