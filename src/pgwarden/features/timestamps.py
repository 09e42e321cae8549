"""``timestamps``: ``created_at`` / ``updated_at`` kept by the database itself.

Declared as ``timestamps = true`` or ``timestamps = { created = "inserted_at" }``. Missing
columns are added (``timestamptz not null default now()``); existing ones are adopted, and
then never dropped by pgwarden. A BEFORE trigger fills them on INSERT, keeps the creation
time immutable, and moves ``updated`` only when an UPDATE really changes the row.
"""

from __future__ import annotations

from typing import ClassVar

from psycopg import sql
from pydantic import model_validator

from pgwarden._names import owned_name
from pgwarden.catalog import Column, Table
from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.features._base import (
    Feature,
    PlanContext,
    feature_column,
    function_body,
    new_column,
    sql_template,
    trigger,
    trigger_function,
)
from pgwarden.spec import FeatureOptions

_TIMESTAMP_TYPES = ("timestamp with time zone", "timestamp without time zone")
TRIGGER_NAME = "pgwarden_timestamps"


class TimestampsOptions(FeatureOptions):
    created: str = "created_at"
    """Column holding the creation time."""
    updated: str = "updated_at"
    """Column holding the time of the last real change."""

    @model_validator(mode="after")
    def _distinct(self) -> TimestampsOptions:
        if self.created == self.updated:
            raise ValueError("created and updated must be different columns")
        return self


class Timestamps(Feature):
    name = "timestamps"
    summary = "created_at / updated_at kept by trigger (names configurable, existing adopted)"
    options: ClassVar[type[FeatureOptions]] = TimestampsOptions

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        assert isinstance(options, TimestampsOptions)
        found: list[DesiredObject] = []
        for column in (options.created, options.updated):
            obj = self._column(table, column, ctx)
            if obj is not None:
                found.append(obj)
        function = ObjectRef(
            "function", "warden", owned_name(table.name.schema, table.name.name, suffix=self.name)
        )
        body = function_body(
            sql_template(__package__ or "pgwarden.features", "timestamps.sql"),
            created=sql.Identifier(options.created),
            updated=sql.Identifier(options.updated),
        )
        found.append(
            trigger_function(
                self.name,
                table,
                function,
                body,
                description=f"function keeping {options.created}/{options.updated} of {table.name}",
            )
        )
        found.append(
            trigger(
                self.name,
                table,
                TRIGGER_NAME,
                sql.SQL("BEFORE INSERT OR UPDATE ON {} FOR EACH ROW").format(table.name.ident),
                function,
                description=f"trigger filling timestamps on {table.name}",
            )
        )
        return found

    def columns_to_come(self, table: Table, options: FeatureOptions) -> list[Column]:
        assert isinstance(options, TimestampsOptions)
        return [
            new_column(name, "timestamp with time zone", 1184, not_null=True)
            for name in (options.created, options.updated)
        ]

    def _column(self, table: Table, column: str, ctx: PlanContext) -> DesiredObject | None:
        return feature_column(
            self.name,
            table,
            column,
            ctx,
            definition="timestamptz NOT NULL DEFAULT now()",
            accepted=_TIMESTAMP_TYPES,
            alter="ALTER TABLE {0} ALTER COLUMN {1} TYPE timestamptz, "
            "ALTER COLUMN {1} SET DEFAULT now(), ALTER COLUMN {1} SET NOT NULL",
        )
