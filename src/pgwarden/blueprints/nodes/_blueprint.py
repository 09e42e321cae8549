"""The nodes blueprint's registration (entry point ``pgwarden.blueprints``)."""

from __future__ import annotations

from pgwarden.blueprints import CommandBlueprint


class NodesBlueprint(CommandBlueprint):
    name = "nodes"
    summary = "seed 000's unified node system: nodes, relationships, history, search, RLS"
    extra = "nodes"
    cli = "pgwarden.blueprints.nodes._cli:nodes_app"
    demo_module = "pgwarden.blueprints.nodes._cli"
