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
        # The column list is part of the definition: a table change replaces the view; so are
        # the generation expressions, which the view computes (warden.audit_generated_sql).
        shaped = ctx.with_columns_to_come(table)  # columns this same apply adds count too
        shape = hashlib.sha1(
            ",".join(
                c.name + (f"={c.default}" if c.generated else "") for c in shaped.columns
            ).encode()
        ).hexdigest()[:12]
        # security_invoker (15+): the audit store's row level security (tenancy) applies to
        # whoever reads the view, not to its owner.
        invoker = " WITH (security_invoker = true)" if ctx.catalog.server.major >= 15 else ""
        name_text = sql.Literal(table.name.regclass_text)
        # Each version's image as a row of the table, its generated columns computed; made
        # in the database by the helper every read uses (none: the image as it is).
        plain = sql.SQL("jsonb_populate_record(NULL::{}, v.row_data)").format(table.name.ident)
        view_sql = sql.SQL(
            "CREATE VIEW {view}"
            + invoker
            + " AS SELECT v.version, v.valid_from, v.valid_to, v.op, "
            "v.actor, v.tenant, v.reason, v.request_id, v.txid, v.event_id, v.row_key, r.* "
            "FROM warden.versions(warden.audit_table_id({name})) v CROSS JOIN LATERAL "
        ).format(view=view, name=name_text)
        template = view_sql.as_string(None).replace("%", "%%") + "%s r"
        body = sql.SQL(
            "BEGIN EXECUTE format({template}, coalesce(warden.audit_generated_sql("
            "warden.audit_table_id({name}), 'v.row_data', true), {plain})); END"
        ).format(
            template=sql.Literal(template), name=name_text, plain=sql.Literal(plain.as_string(None))
        )
        return [
            DesiredObject(
                ref=ref,
                feature=self.name,
                table=table.name,
                create=sql.SQL("DO {body}; COMMENT ON VIEW {view} IS {comment}").format(
                    body=sql.Literal(body.as_string(None)),
                    view=view,
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
