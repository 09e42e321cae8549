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


class CommandBlueprint(Blueprint):
    """A blueprint whose command group is the Typer app ``cli`` (``"module:attribute"``) and
    whose demo is ``run_demo`` in module ``demo_module``; both are imported only when used,
    and an ImportError (its extra not installed) becomes a command that says what to install."""

    cli: ClassVar[str]
    demo_module: ClassVar[str]

    def _missing(self, exc: ImportError) -> str:
        what = exc.name or "a dependency"
        return f"the {self.name} blueprint needs {what}: pip install 'pgwarden[{self.extra}]'"

    def commands(self, app: typer.Typer) -> None:
        import importlib

        import typer

        module, attribute = self.cli.split(":")
        try:
            group = getattr(importlib.import_module(module), attribute)
        except ImportError as exc:  # the extra is not installed: say how to get it
            message = self._missing(exc)

            def unavailable() -> None:
                typer.echo(message, err=True)
                raise typer.Exit(1)

            app.command(self.name, help=f"The {self.name} blueprint ({message}).")(unavailable)
            return
        app.add_typer(group, name=self.name)

    def demo(self, ctx: typer.Context, *, port: int, serve: bool, check: bool) -> None:
        import importlib

        import typer

        try:
            run_demo = importlib.import_module(self.demo_module).run_demo
        except ImportError as exc:
            typer.echo(self._missing(exc), err=True)
            raise typer.Exit(1) from None
        run_demo(ctx, port=port, serve=serve, check=check)


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


__all__ = ["BLUEPRINT_GROUP", "Blueprint", "CommandBlueprint", "registered_blueprints"]
