"""The ``pgwarden`` command line.

Commands of the core are registered by importing their modules; each feature adds its own
(``Feature.commands``: ``pgwarden audit ...``, ``pgwarden partitions ...``). Commands of other
plug-ins (pgwarden's own modules such as monitoring and backups, or a third-party package) come
through the entry-point group ``pgwarden.commands``: ``name = "module:register"``, where
``register(app: typer.Typer) -> None`` adds commands or a command group to the root app.
"""

from importlib.metadata import entry_points

from pgwarden.blueprints import registered_blueprints
from pgwarden.cli import (  # noqa: F401  (they register commands)
    _init,
    _maintain,
    _replicas,
    _server,
    _worker,
)
from pgwarden.cli._app import app, main
from pgwarden.cli._common import options
from pgwarden.features import registered_features

COMMAND_GROUP = "pgwarden.commands"

for _feature in registered_features().values():
    _feature.commands(app)
for _blueprint in registered_blueprints().values():
    _blueprint.commands(app)
for _point in sorted(entry_points(group=COMMAND_GROUP), key=lambda p: p.name):
    _point.load()(app)

__all__ = ["COMMAND_GROUP", "app", "main", "options"]
