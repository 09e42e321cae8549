"""``versioning``: every version of every row, as a view of the table's own columns.

Needs ``audit`` on the same table (versions are read from its events; nothing else is
written). Creates ``<schema>.<table>__versions``: one row per version with ``version``,
``valid_from`` / ``valid_to``, ``op``, ``actor``, ``reason``, ``txid`` and the table's columns
as they were (NULL after a delete). Row history, time travel and revert work through
``warden.history()``, ``warden.as_of()`` and :class:`pgwarden.Warden` for any audited table.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

from psycopg import sql

from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, Lock, ObjectRef
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features._base import Feature, PlanContext
from pgwarden.spec import FeatureOptions

SUFFIX = "__versions"
VERSION_COLUMNS = (
    "version", "valid_from", "valid_to", "op", "actor", "tenant", "reason", "request_id",
    "txid", "event_id", "row_key",
)  # fmt: skip
"""The view's own columns, before the table's."""


class VersioningOptions(FeatureOptions):
    view: bool = True
    """Create the ``<table>__versions`` view."""


class Versioning(Feature):
    name = "versioning"
    summary = "row versions and validity ranges (a <table>__versions view); needs audit"
    options: ClassVar[type[FeatureOptions]] = VersioningOptions
    requires = ("audit",)  # versions are read from the audit trail
    keeps_history = True

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        assert isinstance(options, VersioningOptions)
        if not options.view:
            return []
        clash = [c for c in table.column_names if c in VERSION_COLUMNS]
        if clash:
            raise FeatureNotApplicable(
                str(table.name),
                self.name,
                f"column {', '.join(clash)} has the name of a column of the {SUFFIX} view "
                f"({', '.join(VERSION_COLUMNS)}); rename it, or declare "
                "versioning = { view = false } and read versions with warden.history()",
            )
        name = table.name.name + SUFFIX
        if len(name.encode()) > 63:
            raise FeatureNotApplicable(
                str(table.name), self.name, f"the view name {name!r} is longer than 63 bytes"
            )
        ref = ObjectRef("view", table.name.schema, name)
        view = sql.Identifier(table.name.schema, name)
        # The column list is part of the definition: a table change replaces the view.
        shaped = ctx.with_columns_to_come(table)  # columns this same apply adds count too
        shape = hashlib.sha1(",".join(shaped.column_names).encode()).hexdigest()[:12]
        # security_invoker (15+): the audit store's row level security (tenancy) applies to
        # whoever reads the view, not to its owner.
        invoker = " WITH (security_invoker = true)" if ctx.catalog.server.major >= 15 else ""
        return [
            DesiredObject(
                ref=ref,
                feature=self.name,
                table=table.name,
                create=sql.SQL(
                    "CREATE VIEW {view}"
                    + invoker
                    + " AS SELECT v.version, v.valid_from, v.valid_to, v.op, "
                    "v.actor, v.tenant, v.reason, v.request_id, v.txid, v.event_id, v.row_key, "
                    "(jsonb_populate_record(NULL::{table}, v.row_data)).* "
                    "FROM warden.versions(warden.audit_table_id({name})) v; "
                    "COMMENT ON VIEW {view} IS {comment}"
                ).format(
                    view=view,
                    table=table.name.ident,
                    name=sql.Literal(table.name.regclass_text),
                    comment=sql.Literal(
                        f"Every version of every row of {table.name}, from its audit trail "
                        f"(pgwarden versioning; columns {shape})."
                    ),
                ),
                drop=sql.SQL("DROP VIEW IF EXISTS {}").format(view),
                description=f"view {table.name.schema}.{name} of every version of {table.name}",
                lock=Lock("ACCESS SHARE", table.name),
            )
        ]
