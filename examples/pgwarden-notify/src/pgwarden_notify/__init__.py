"""``notify``: every INSERT, UPDATE and DELETE of a table announced with ``pg_notify``.

A pgwarden feature shipped as its own package: one folder, one entry-point line in its
``pyproject.toml``, nothing changed in pgwarden. Declare it per table::

    [tables."public.orders"]
    notify = { channel = "orders" }

and listen from anywhere (``LISTEN orders`` in psql, ``warden.notify.listen()`` in Python,
``pgwarden notify listen`` in a shell).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

import typer
from psycopg import sql
from pydantic import field_validator

from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features import (
    Feature,
    FeatureAPI,
    PlanContext,
    function_body,
    owned_name,
    sql_template,
    trigger,
    trigger_function,
)
from pgwarden.spec import FeatureOptions


class NotifyOptions(FeatureOptions):
    channel: str = "pgwarden"
    """The NOTIFY channel (an identifier: letters, digits, underscores)."""

    @field_validator("channel")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value or not value.replace("_", "").isalnum() or len(value) > 63:
            raise ValueError("a channel is 1 to 63 letters, digits or underscores")
        return value


class NotifyAPI(FeatureAPI):
    """``warden.notify``: the announcements of the tables declaring ``notify``."""

    def listen(
        self, channel: str = "pgwarden", *, timeout: float = 5.0
    ) -> Iterator[dict[str, Any]]:
        """Yield the announcements on ``channel`` until ``timeout`` seconds pass quietly."""
        with self.warden.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            for note in conn.notifies(timeout=timeout):
                yield json.loads(note.payload)


def _key(row: str, columns: tuple[str, ...]) -> sql.Composable:
    """The key value(s) of ``row`` (OLD or NEW) as JSON: a scalar, or an array if composite."""
    parts = [sql.SQL("to_jsonb({}) -> {}").format(sql.SQL(row), sql.Literal(c)) for c in columns]
    if len(parts) == 1:
        return parts[0]
    return sql.SQL("jsonb_build_array({})").format(sql.SQL(", ").join(parts))


class Notify(Feature):
    name = "notify"
    summary = "each changed row announced on a LISTEN/NOTIFY channel (a plug-in package)"
    options: ClassVar[type[FeatureOptions]] = NotifyOptions
    api = NotifyAPI

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        assert isinstance(options, NotifyOptions)
        if table.primary_key is None:
            raise FeatureNotApplicable(str(table.name), self.name, "it has no primary key")
        columns = table.primary_key.columns
        function = ObjectRef(
            "function", "warden", owned_name(table.name.schema, table.name.name, suffix=self.name)
        )
        body = function_body(
            sql_template(__package__, "notify.sql"),
            channel=sql.Literal(options.channel),
            old_key=_key("OLD", columns),
            new_key=_key("NEW", columns),
        )
        timing = sql.SQL("AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW").format(
            table.name.ident
        )
        return [
            trigger_function(
                self.name,
                table,
                function,
                body,
                description=f"function announcing changes of {table.name} on {options.channel}",
            ),
            trigger(
                self.name,
                table,
                "pgwarden_notify",
                timing,
                function,
                description=f"trigger announcing changes of {table.name}",
            ),
        ]

    def commands(self, app: typer.Typer) -> None:
        group = typer.Typer(help="Row changes announced with LISTEN/NOTIFY (pgwarden-notify).")

        @group.command("listen")
        def listen(
            ctx: typer.Context,
            channel: str = typer.Option("pgwarden", help="The channel to listen on."),
            timeout: float = typer.Option(5.0, help="Stop after this many quiet seconds."),
        ) -> None:
            """Print the announcements on CHANNEL as JSON lines."""
            from pgwarden.cli import options

            for payload in options(ctx).warden().api(NotifyAPI).listen(channel, timeout=timeout):
                typer.echo(json.dumps(payload))

        app.add_typer(group, name="notify")
