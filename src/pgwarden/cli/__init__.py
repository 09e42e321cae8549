"""The ``pgwarden`` command line.

Commands of the core are registered by importing their modules. Commands of plug-ins
(pgwarden's own modules such as monitoring and backups, or a third-party package) come through
the entry-point group ``pgwarden.commands``: ``name = "module:register"``, where
``register(app: typer.Typer) -> None`` adds commands or a command group to the root app.
"""

from importlib.metadata import entry_points

from pgwarden.cli import (  # noqa: F401  (they register commands)
    _archive,
    _audit,
    _demo,
    _init,
    _kitaab,
    _maintain,
    _partitions,
    _server,
    _soft_delete,
    _worker,
)
from pgwarden.cli._app import app, main

COMMAND_GROUP = "pgwarden.commands"

for _point in sorted(entry_points(group=COMMAND_GROUP), key=lambda p: p.name):
    _point.load()(app)

__all__ = ["COMMAND_GROUP", "app", "main"]
