"""The audit store respects tenancy: row level security on ``warden.audit_events`` (hot and
archived) and ``warden.audit_contexts``, so every read over them (``warden.history``,
``as_of``, ``log``, the change feed, the ``__versions`` views) shows a session only the
events of rows it may see.

An event of a tenanted table is visible when the row image it holds (before or after the
change) belongs to the session's tenant, or is shared with it through the table's grant; an
event of any other table stays visible (its table's own privileges guard it). A transaction's
context (actor, reason...) is visible when one of its events is. RLS is enabled, not forced:
the store's owner, which captures (SECURITY DEFINER) and maintains it, is not filtered.
Application roles get no privilege on the store from this: a deployment that grants them
reads gets these filters (see docs/tenancy.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.engine import DesiredObject, Kind, Lock, ObjectRef
from pgwarden.features.tenancy._policies import NAME, PREFIX, Rules

EVENTS = (QualifiedName("warden", "audit_events"), QualifiedName("warden", "audit_events_archive"))
CONTEXTS = QualifiedName("warden", "audit_contexts")
# The store's views every read goes through (made by audit's functions/): with their
# caller's rights, or they would read the store as its owner, past the policies.
VIEWS = (QualifiedName("warden", "audit_events_all"), QualifiedName("warden", "audit_facts_all"))

INVOKER_KIND = Kind(
    # A view that reads with its caller's rights (PostgreSQL 15+): policies apply through it.
    "invoker_view",
    61,
    "select 'security_invoker' from pg_class where oid = to_regclass(%(regclass)s)"
    " and 'security_invoker=true' = any(coalesce(reloptions, '{}'))",
    or_replace=True,
)


def _sees(image: str, table: QualifiedName, rules: Rules) -> sql.Composable:
    """Whether the row image (a jsonb column of the event) is the tenant's, or shared."""
    row = sql.Identifier(image)
    tenant = sql.SQL("(SELECT {}())").format(sql.Identifier("warden", rules.context))
    own = sql.SQL("({} ->> {}) = {}").format(row, sql.Literal(rules.column), tenant)
    grant = rules.grant
    if grant is None:
        return own
    parts = [
        sql.SQL("g.{}::text = ({} ->> {})").format(
            sql.Identifier(grant.on), row, sql.Literal(grant.on)
        ),
        sql.SQL("g.{}::text = {}").format(sql.Identifier(grant.grantee), tenant),
    ]
    if grant.owner is not None:
        parts.append(
            sql.SQL("g.{}::text = ({} ->> {})").format(
                sql.Identifier(grant.owner), row, sql.Literal(rules.column)
            )
        )
    return sql.SQL("({} OR EXISTS (SELECT 1 FROM {} g WHERE {}))").format(
        own, grant.table.ident, sql.SQL(" AND ").join(parts)
    )


def _events_filter(tenanted: Sequence[tuple[QualifiedName, Rules]]) -> sql.Composable:
    cases = [
        sql.SQL(
            "WHEN table_id IN (SELECT t.table_id FROM warden.audit_tables t "
            "WHERE t.schema_name = {} AND t.table_name = {}) THEN {} OR {}"
        ).format(
            sql.Literal(name.schema),
            sql.Literal(name.name),
            _sees("old_row", name, rules),
            _sees("new_row", name, rules),
        )
        for name, rules in tenanted
    ]
    return sql.SQL("CASE {} ELSE true END").format(sql.SQL(" ").join(cases))


def _enabled(relation: QualifiedName) -> DesiredObject:
    return DesiredObject(
        ref=ObjectRef("row_security", relation.schema, relation.name),
        feature=NAME,
        table=None,
        create=sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(relation.ident),
        drop=sql.SQL("ALTER TABLE IF EXISTS {} DISABLE ROW LEVEL SECURITY").format(relation.ident),
        description=f"row level security on {relation} (its owner, the capture, unfiltered)",
        lock=Lock("ACCESS EXCLUSIVE", relation),
    )


def _policy(relation: QualifiedName, using: sql.Composable, what: str) -> DesiredObject:
    name = PREFIX + "read"
    return DesiredObject(
        ref=ObjectRef("policy", relation.schema, name, relation),
        feature=NAME,
        table=None,
        create=sql.SQL(
            "CREATE POLICY {} ON {} AS PERMISSIVE FOR SELECT TO PUBLIC USING ({})"
        ).format(sql.Identifier(name), relation.ident, using),
        drop=sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(name), relation.ident),
        description=f"policy SELECT of {relation}: {what}",
        lock=Lock("ACCESS EXCLUSIVE", relation),
    )


def store_objects(
    tenanted: Sequence[tuple[QualifiedName, Rules]], major: int
) -> list[DesiredObject]:
    """RLS and read policies on the audit store for the tenanted tables."""
    found: list[DesiredObject] = []
    filtered = _events_filter(tenanted)
    for relation in EVENTS:
        found += [
            _enabled(relation),
            _policy(relation, filtered, "events of tenanted tables to their tenants only"),
        ]
    seen = sql.SQL(" OR ").join(
        sql.SQL("EXISTS (SELECT 1 FROM {} e WHERE e.txid = audit_contexts.txid)").format(
            relation.ident
        )
        for relation in EVENTS
    )
    found += [
        _enabled(CONTEXTS),
        _policy(CONTEXTS, seen, "a transaction's context to whoever sees one of its events"),
    ]
    if major >= 15:
        found += [_invoker(view) for view in VIEWS]
    return found


def _invoker(view: QualifiedName) -> DesiredObject:
    return DesiredObject(
        ref=ObjectRef("invoker_view", view.schema, view.name),
        feature=NAME,
        table=None,
        create=sql.SQL("ALTER VIEW {} SET (security_invoker = true)").format(view.ident),
        drop=sql.SQL("ALTER VIEW IF EXISTS {} RESET (security_invoker)").format(view.ident),
        description=f"view {view} reads with its caller's rights (policies apply)",
        lock=Lock("ACCESS EXCLUSIVE", view),
    )
