"""The ``roles`` module plugged into the engine: ``[roles]`` planned like a feature's objects.

No table declares it (like ``materialized_views``): the engine plans its database-wide objects
because the ``[roles]`` section is written, and the feature contract (kinds, a stream for the
previous owners, drift, exact removal) applies unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import psycopg

from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, Kind, Stream
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features._base import Feature, PlanContext
from pgwarden.roles._api import RolesAPI
from pgwarden.roles._config import declared_roles
from pgwarden.roles._kinds import KINDS
from pgwarden.roles._plan import roles_objects
from pgwarden.roles._read import Reader
from pgwarden.spec import FeatureOptions

if TYPE_CHECKING:
    import typer


class Roles(Feature):
    name = "roles"
    summary = "owner, app, read-only and admin roles: least privilege on the declared schemas"
    options: ClassVar[type[FeatureOptions]] = FeatureOptions
    api = RolesAPI

    def kinds(self) -> list[Kind]:
        return list(KINDS)

    def stream(self) -> Stream:
        """Who owned what before the owner role took it (``warden.role_previous_owners``)."""
        return Stream(self.name, "pgwarden.roles")

    def prepare(self, conn: psycopg.Connection[Any]) -> Reader:
        return Reader(conn)

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        raise FeatureNotApplicable(
            str(table.name), self.name, "roles are declared in a [roles] section, not per table"
        )

    def database_objects(self, ctx: PlanContext) -> list[DesiredObject]:
        section = declared_roles(ctx.spec)
        reader = ctx.state.get(self.name)
        if not section.declared or not isinstance(reader, Reader):
            return []
        return roles_objects(section, ctx, reader)

    def commands(self, app: typer.Typer) -> None:
        from pgwarden.roles._cli import register

        register(app)
