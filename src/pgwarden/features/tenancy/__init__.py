"""``tenancy``: row-level security generated from the declaration, per table.

Declared as::

    [tenancy]
    signed = true                                   # the default

    [tables."public.projects"]
    tenancy = { column = "org_id" }                 # a tenant key

    [tables."kitaab.entries"]                       # ownership with grants
    tenancy = { column = "user_id", grant = { table = "kitaab.entry_access",
                on = "deed_item_id", grantee = "viewer_id", owner = "owner_id",
                write = "can_write" } }

pgwarden enables and forces row level security, adds one policy per command (``WITH CHECK``
on writes) for the app role (``[roles] app``, ``PUBLIC`` when none is declared) and one
letting the admin role through, fills the tenant column from the context on insert when it
is absent, and builds an index led by the tenant column ``CONCURRENTLY`` when there is none.
Partitions get the same policies (a partition read directly is no way around them). The
context is ``warden.tenant()``: the session's ``pgwarden.tenant`` verified against its MAC
(``_verify``: in C with extension pgwarden_wal 1.3, else ``_tenant_sql.sql``). See
``docs/tenancy.md``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, ClassVar

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName, owned_name
from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, Kind, ObjectRef, Stream
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features._base import (
    Feature,
    PlanContext,
    function_body,
    sql_template,
    trigger,
    trigger_function,
)
from pgwarden.features._indexes import concurrent_index, index_name
from pgwarden.features.tenancy._api import TenancyAPI
from pgwarden.features.tenancy._options import TenancyOptions, TenancySection
from pgwarden.features.tenancy._policies import (
    NAME,
    PUBLIC,
    Rules,
    forced,
    grants_function,
    policies,
    policy_object,
    type_word,
    validate_grant,
)
from pgwarden.features.tenancy._reads import read_state
from pgwarden.features.tenancy._store import INVOKER_KIND, store_objects
from pgwarden.features.tenancy._verify import tenant_objects
from pgwarden.roles import declared_roles
from pgwarden.spec import FeatureOptions

__all__ = ["Tenancy", "TenancyAPI", "TenancyOptions", "TenancySection"]

_PACKAGE = "pgwarden.features.tenancy"

KINDS = [
    Kind(
        # Not the engine's row_security: FORCE counts (without it the owner reads everything).
        "forced_row_security",
        65,
        "select 'forced' from pg_class where oid = to_regclass(%(regclass)s)"
        " and relrowsecurity and relforcerowsecurity",
        or_replace=True,  # ALTER TABLE ... ENABLE, FORCE is idempotent
    )
]


class Tenancy(Feature):
    name = NAME
    summary = "row-level security per tenant or owner (grants), forced, signed context"
    options: ClassVar[type[FeatureOptions]] = TenancyOptions
    api = TenancyAPI

    def kinds(self) -> list[Kind]:
        return [*KINDS, INVOKER_KIND]

    def database_objects(self, ctx: PlanContext) -> list[DesiredObject]:
        """``warden.tenant()``, in C where extension pgwarden_wal 1.3 can be had (``_verify``),
        and row level security on the audit store, when a table is audited (``_store``)."""
        found = tenant_objects(ctx, self.name)
        declared = sorted(ctx.spec.tables.items())
        if not any("audit" in t.features for _, t in declared):
            return found
        tenanted = []
        for name, spec in declared:
            options, table = spec.features.get(NAME), ctx.catalog.get(name)
            if isinstance(options, TenancyOptions) and table is not None:
                tenanted.append((name, _rules(table, options, ctx)))
        return found + store_objects(tenanted, ctx.catalog.server.major)

    def stream(self) -> Stream:
        """The tenancy key (``migrations/``) and ``warden.tenant_claimed()`` (``functions/``);
        ``warden.tenant()`` is a database-wide object (its body depends on the server)."""
        return Stream(self.name, _PACKAGE)

    def prepare(self, conn: psycopg.Connection[Any]) -> dict[str, Any]:
        return read_state(conn)

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        assert isinstance(options, TenancyOptions)
        state = ctx.state.get(NAME) or {}
        where = str(table.name)
        column = table.column(options.column)
        if column is None:
            raise FeatureNotApplicable(
                where, NAME, f"column: {table.name} has no column {options.column}"
            )
        declared = ctx.spec.tables.get(table.name)
        views = [f for f in _VIEWS if declared and f in declared.features]
        if ctx.catalog.server.major < 15 and views:
            raise FeatureNotApplicable(
                where, NAME,
                f"PostgreSQL {ctx.catalog.server.major} has no security_invoker views: the "
                f"view {views[0]} makes would read past the policies (use PostgreSQL 15+)",
            )  # fmt: skip
        rules = _rules(table, options, ctx)
        found: list[DesiredObject] = grants_function(rules, table.name)
        bypasses = [
            b for b in state.get("bypasses", []) if _names(b["text"], table.name)
        ]  # fmt: skip
        for relation in [table, *ctx.partitions_below(table), *_archive(table, ctx)]:
            found += _guard(relation, table, rules, state, bypasses if relation is table else [])
        found += _default(table, rules)
        found += _index(table, options, ctx)
        return found


_VIEWS = ("soft_delete", "archive", "versioning")


def _rules(table: Table, options: TenancyOptions, ctx: PlanContext) -> Rules:
    state = ctx.state.get(NAME) or {}
    where = str(table.name)
    column = table.column(options.column)
    if column is None:
        raise FeatureNotApplicable(
            where, NAME, f"column: {table.name} has no column {options.column}"
        )
    return Rules(
        column=options.column,
        type=type_word(where, options.column, column.type),
        context="tenant" if ctx.spec.section(NAME, TenancySection).signed else "tenant_claimed",
        grant=validate_grant(table, options, {**state.get("views", {}), **ctx.catalog.tables}),
        **_roles(where, ctx, state),
        table=table.name,
    )


def _names(text: str, table: QualifiedName) -> bool:
    """Whether SQL ``text`` (a view's definition, a function's body) names ``table``."""
    return re.search(r"(?<![\w$])" + re.escape(table.name) + r"(?![\w$])", text, re.I) is not None


def _roles(where: str, ctx: PlanContext, state: dict[str, Any]) -> dict[str, Any]:
    """The roles the policies name; refuses an app or read-only role RLS would not apply to."""
    declared = declared_roles(ctx.spec)
    attributes = state.get("roles", {})
    for key in ("app", "readonly"):
        role = getattr(declared, key)
        found = attributes.get(role.name) if role else None
        if found and (found["super"] or found["bypass"]):
            what = "a superuser" if found["super"] else "BYPASSRLS"
            raise FeatureNotApplicable(
                where, NAME,
                f"roles.{key}: role {role.name} is {what}: row level security never applies "
                "to it (ALTER ROLE ... NOSUPERUSER NOBYPASSRLS, or name another role)",
            )  # fmt: skip
    readers = tuple(r.name for r in (declared.app, declared.readonly) if r)
    return {
        "readers": readers or (PUBLIC,),
        "writers": (declared.app.name,) if declared.app else (PUBLIC,),
        "admin": declared.admin.name if declared.admin else None,
    }


def _archive(table: Table, ctx: PlanContext) -> list[Table]:
    """The archive feature's table of ``table``'s old rows (made in this apply, or there):
    the same rows, so the same policies."""
    from pgwarden.features.archive._options import ArchiveOptions, archive_name

    declared = ctx.spec.tables.get(table.name)
    options = declared.features.get("archive") if declared else None
    if not isinstance(options, ArchiveOptions):
        return []
    name = archive_name(table.name, options)
    return [ctx.catalog.get(name) or replace(table, name=name, kind="table", oid=0)]


def _guard(
    relation: Table, declared: Table, rules: Rules, state: dict[str, Any], bypasses: list[Any]
) -> list[DesiredObject]:
    """FORCE row level security and the policies on one relation (the table or a partition)."""
    theirs = [
        p for p in state.get("policies", {}).get(relation.name.regclass_text, [])
        if not p["name"].startswith("pgwarden_tenancy_") and p["permissive"]
    ]  # fmt: skip
    if theirs:
        raise FeatureNotApplicable(
            str(declared.name), NAME,
            f"{relation.name} has a permissive policy of its own ({theirs[0]['name']}), which "
            "would be OR-ed with pgwarden's and widen them: drop it or make it RESTRICTIVE",
        )  # fmt: skip
    old = {
        p["name"]: p["terms"]
        for p in state.get("policies", {}).get(relation.name.regclass_text, [])
    }
    return [forced(relation, declared, [b["what"] for b in bypasses])] + [
        policy_object(relation, p, declared, old.get(p.name))
        for p in policies(rules, relation.name)
    ]


def _default(table: Table, rules: Rules) -> list[DesiredObject]:
    function = ObjectRef(
        "function", "warden", owned_name(table.name.schema, table.name.name, suffix=NAME)
    )
    body = function_body(
        sql_template(_PACKAGE, "default.sql"),
        column=sql.Identifier(rules.column),
        tenant=sql.SQL("{}()").format(sql.Identifier("warden", rules.context)),
        type=sql.SQL(rules.type),
    )
    # WHEN: a row that names its tenant costs no function call (a SECURITY DEFINER call per
    # row is most of what the trigger would cost); the policies' WITH CHECK judge it.
    timing = sql.SQL("BEFORE INSERT ON {} FOR EACH ROW WHEN (NEW.{} IS NULL)").format(
        table.name.ident, sql.Identifier(rules.column)
    )
    return [
        trigger_function(
            NAME, table, function, body,
            description=f"function setting {rules.column} of new {table.name} rows from the tenant",
            # Application roles have no USAGE on schema warden, where warden.tenant() is.
            attributes="SECURITY DEFINER SET search_path = pg_catalog, pg_temp",
        ),
        trigger(
            NAME, table, "pgwarden_tenancy", timing, function,
            description=f"trigger filling {rules.column} of {table.name} on insert when absent",
        ),
    ]  # fmt: skip


def _index(table: Table, options: TenancyOptions, ctx: PlanContext) -> list[DesiredObject]:
    """An index led by the tenant column, unless one is there already (the user's)."""
    if not options.index:
        return []
    mine = {
        i.name for i in table.indexes if ctx.owns(ObjectRef("index", table.name.schema, i.name))
    }
    if any(
        i.columns[:1] == (options.column,) and i.valid and not i.partial and i.name not in mine
        for i in table.indexes
    ):
        return []
    what = f"index led by {table.name}.{options.column} (policies filter on it)"
    using = sql.SQL("btree ({})").format(sql.Identifier(options.column))
    # On a partitioned table: ON ONLY the parent, CONCURRENTLY per partition, then attached.
    name, leftover = index_name(NAME, table, NAME, ctx)
    return [concurrent_index(NAME, table, name, using, what, leftover, ctx)]
