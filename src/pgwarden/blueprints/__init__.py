"""Applications of the seed plans, built on pgwarden: schema, policies, services, HTTP API.

A blueprint registers under the entry-point group ``pgwarden.blueprints``
(``kitaab = "pgwarden.blueprints.kitaab:Blueprint"``), exactly as one shipped in its own
package would, and brings its dependencies as an extra (``pip install pgwarden[kitaab]``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import typer

BLUEPRINT_GROUP = "pgwarden.blueprints"
"""The entry-point group naming ``blueprint = "module:BlueprintClass"``."""


class Blueprint(ABC):
    """An application built on pgwarden: its name, the extra that installs its dependencies,
    and its commands (``pgwarden <name> ...``)."""

    name: ClassVar[str]
    summary: ClassVar[str]
    extra: ClassVar[str | None] = None
    """The ``pgwarden[extra]`` that installs what it needs beyond pgwarden's core."""

    @abstractmethod
    def commands(self, app: typer.Typer) -> None:
        """Add the blueprint's command group (and, for the demo blueprint, ``demo``)."""

    def demo(self, ctx: typer.Context, *, port: int, serve: bool, check: bool) -> None:
        """Run the blueprint's demo for ``pgwarden demo <name>`` on the database the global
        options lead to: install, load data, then serve on ``port`` (``serve``), or prove
        the API answers and stop (``check``). Blueprints without a demo refuse."""
        from pgwarden.errors import ConfigError

        raise ConfigError(f"the {self.name} blueprint has no demo")


@cache
def _registered() -> tuple[tuple[str, Blueprint], ...]:
    found = []
    for point in sorted(entry_points(group=BLUEPRINT_GROUP), key=lambda p: p.name):
        cls = point.load()
        if not (isinstance(cls, type) and issubclass(cls, Blueprint)):
            raise TypeError(f"{point.value!r} ({BLUEPRINT_GROUP}) is not a Blueprint subclass")
        found.append((point.name, cls()))
    return tuple(found)


def registered_blueprints() -> dict[str, Blueprint]:
    """Every installed blueprint, by name."""
    return dict(_registered())


__all__ = ["BLUEPRINT_GROUP", "Blueprint", "registered_blueprints"]
