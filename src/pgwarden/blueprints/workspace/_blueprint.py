"""The workspace blueprint's registration (entry point ``pgwarden.blueprints``)."""

from __future__ import annotations

from pgwarden.blueprints import CommandBlueprint


class WorkspaceBlueprint(CommandBlueprint):
    name = "workspace"
    summary = "seed 002's workspace: organizations as tenants, tasks with dependencies, events"
    extra = "workspace"
    cli = "pgwarden.blueprints.workspace._cli:workspace_app"
    demo_module = "pgwarden.blueprints.workspace._demo"
