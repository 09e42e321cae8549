"""The policies ``tenancy`` generates on one relation, and what each lets through (its
*terms*), so that ``plan`` can tell a change that widens access from one that narrows it.

A grant is checked through a function, not a correlated ``EXISTS``: the policies say
``ROW(on, owner)::text = ANY ((SELECT warden.<table>__tenancy_grants(write)))``, an InitPlan
evaluated only when a row is not the tenant's own, once per statement. PostgreSQL starts
every subplan of a statement whether it runs or not, and Kitaab's upsert carries seven
policy clauses: their ``EXISTS`` over the grant view made it cost 0.2 ms more server CPU
than the same statement without policies, most of the gap to the code before tenancy. The
function reads the verified tenant itself, so a clause holds one InitPlan, not two. The
terms still read as the ``EXISTS``: it is what both let through, so a plan does not call
the change a widening."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from psycopg import sql

from pgwarden._names import QualifiedName, owned_name
from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, Lock, ObjectRef
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features.tenancy._options import TenancyOptions

NAME = "tenancy"
PREFIX = "pgwarden_tenancy_"
PUBLIC = "PUBLIC"

# Column types a tenant may be compared with, and the fixed type word the context is cast to.
_TYPES = {
    "bigint": "bigint",
    "integer": "integer",
    "smallint": "smallint",
    "uuid": "uuid",
    "text": "text",
    "character varying": "text",
    "citext": "text",
}


def type_word(table: str, column: str, type_name: str) -> str:
    """The type the tenant is cast to for ``column``; refuses a type a tenant cannot be."""
    word = _TYPES.get(type_name.split("(")[0].strip())
    if word is None:
        raise FeatureNotApplicable(
            table, NAME,
            f"column {column} is {type_name}; a tenant key must be an integer, uuid or text "
            "column",
        )  # fmt: skip
    return word


@dataclass(frozen=True)
class Grant:
    """A grant table checked by the policies (validated against the catalog)."""

    table: QualifiedName
    on: str
    grantee: str
    grantee_type: str
    owner: str | None
    write: str | None


@dataclass(frozen=True)
class Rules:
    """Everything one relation's policies are made of."""

    column: str
    type: str
    context: str
    """``tenant`` (signed) or ``tenant_claimed``."""
    grant: Grant | None
    readers: tuple[str, ...]
    """Roles the SELECT policy applies to: app and read-only (``PUBLIC`` when no app role is
    declared)."""
    writers: tuple[str, ...]
    """Roles the write policies apply to: app (or ``PUBLIC``)."""
    admin: str | None
    table: QualifiedName | None = None
    """The declared table (its grant function is named after it)."""

    @property
    def grants(self) -> ObjectRef | None:
        """``warden.<table>__tenancy_grants(writing)``, when there is a grant."""
        if self.grant is None or self.table is None:
            return None
        name = owned_name(self.table.schema, self.table.name, suffix="tenancy_grants")
        return ObjectRef("function", "warden", name, args="boolean")


def validate_grant(
    table: Table, options: TenancyOptions, tables: Mapping[QualifiedName, Table]
) -> Grant | None:
    grant = options.grant
    if grant is None:
        return None
    where = str(table.name)
    name = QualifiedName.parse(grant.table)
    found = tables.get(name)
    if found is None:
        raise FeatureNotApplicable(where, NAME, f"grant.table: no table or view {name}")
    if table.column(grant.on) is None:
        raise FeatureNotApplicable(where, NAME, f"grant.on: {table.name} has no column {grant.on}")
    for key in ("on", "grantee", "owner", "write"):
        column = getattr(grant, key)
        if column is not None and found.column(column) is None:
            raise FeatureNotApplicable(where, NAME, f"grant.{key}: {name} has no column {column}")
    if grant.write is not None:
        write = found.column(grant.write)
        if write is not None and write.type != "boolean":
            raise FeatureNotApplicable(
                where, NAME, f"grant.write: {name}.{grant.write} is {write.type}, not boolean"
            )
    grantee = found.column(grant.grantee)
    assert grantee is not None
    return Grant(
        table=name,
        on=grant.on,
        grantee=grant.grantee,
        grantee_type=type_word(where, f"{name}.{grant.grantee}", grantee.type),
        owner=grant.owner,
        write=grant.write,
    )


def _tenant(rules: Rules, type_name: str) -> sql.Composable:
    # A scalar subquery: an InitPlan, evaluated once per statement, not once per row.
    return sql.SQL("(SELECT {}()::{})").format(
        sql.Identifier("warden", rules.context), sql.SQL(type_name)
    )


def _own(rules: Rules, relation: QualifiedName) -> sql.Composable:
    return sql.SQL("{} = {}").format(
        sql.Identifier(relation.name, rules.column), _tenant(rules, rules.type)
    )


@dataclass(frozen=True)
class Clause:
    """One OR-ed clause of a policy: the SQL it runs, and the SQL of what it lets through
    (its term; the same unless the clause is a faster equivalent)."""

    runs: sql.Composable
    term: sql.Composable


def _pair(grant: Grant, alias: sql.Composable, owner: str | None) -> sql.Composable:
    """``ROW(<alias>.<on>[, <alias>.<owner>])::text``: a grant's key as the function lists it."""
    columns = [sql.SQL("{}.{}").format(alias, sql.Identifier(grant.on))]
    if owner is not None:
        columns.append(sql.SQL("{}.{}").format(alias, sql.Identifier(owner)))
    return sql.SQL("ROW({})::text").format(sql.SQL(", ").join(columns))


def _granted(rules: Rules, relation: QualifiedName, *, write: bool) -> Clause | None:
    grant, function = rules.grant, rules.grants
    if grant is None or function is None or (write and grant.write is None):
        return None
    parts: list[sql.Composable] = [
        sql.SQL("g.{} = {}").format(
            sql.Identifier(grant.on), sql.Identifier(relation.name, grant.on)
        ),
        sql.SQL("g.{} = {}").format(
            sql.Identifier(grant.grantee), _tenant(rules, grant.grantee_type)
        ),
    ]
    if grant.owner is not None:
        parts.append(
            sql.SQL("g.{} = {}").format(
                sql.Identifier(grant.owner), sql.Identifier(relation.name, rules.column)
            )
        )
    if write:
        assert grant.write is not None
        parts.append(sql.SQL("g.{}").format(sql.Identifier(grant.write)))
    term = sql.SQL("EXISTS (SELECT 1 FROM {} g WHERE {})").format(
        grant.table.ident, sql.SQL(" AND ").join(parts)
    )
    row = _pair(
        grant, sql.Identifier(relation.name), rules.column if grant.owner is not None else None
    )
    runs = sql.SQL("{} = ANY ((SELECT {}({}))::text[])").format(
        row, sql.Identifier(function.schema, function.name), sql.SQL("true" if write else "false")
    )
    return Clause(runs, term)


def grants_function(rules: Rules, declared: QualifiedName) -> list[DesiredObject]:
    """The function the policies' grant clause calls (none without a grant): the keys
    (``on``, and ``owner`` when named) of the grants to the verified tenant, as the text of a
    row, only those that let it write when ``writing``; NULL keys are left out, as ``=``
    would. ``SECURITY DEFINER``, reading the tenant itself: the caller cannot name another
    grantee, so it learns only its own grants (none without a verified tenant), and needs no
    privilege on the grant table. ``EXECUTE`` stays with PUBLIC, as for any function: the
    roles' privileges on pgwarden's schema are rewritten wholesale (``[roles]``), and a call
    tells a signed tenant only the keys of the grants it holds."""
    grant, function = rules.grant, rules.grants
    if grant is None or function is None:
        return []
    where = [
        sql.SQL("g.{} = {}").format(
            sql.Identifier(grant.grantee), _tenant(rules, grant.grantee_type)
        ),
        sql.SQL("g.{} IS NOT NULL").format(sql.Identifier(grant.on)),
    ]
    if grant.owner is not None:
        where.append(sql.SQL("g.{} IS NOT NULL").format(sql.Identifier(grant.owner)))
    if grant.write is not None:
        where.append(sql.SQL("(NOT writing OR g.{} IS TRUE)").format(sql.Identifier(grant.write)))
    body = sql.SQL("SELECT coalesce(array_agg({}), '{{}}') FROM {} g WHERE {}").format(
        _pair(grant, sql.SQL("g"), grant.owner), grant.table.ident, sql.SQL(" AND ").join(where)
    )
    name = sql.Identifier(function.schema, function.name)
    return [
        DesiredObject(
            ref=function,
            feature=NAME,
            table=declared,
            create=sql.SQL(
                "CREATE OR REPLACE FUNCTION {name}(writing boolean) RETURNS text[]"
                " LANGUAGE sql STABLE SECURITY DEFINER PARALLEL RESTRICTED"
                " SET search_path = pg_catalog, pg_temp AS {body}"
            ).format(name=name, body=sql.Literal(body.as_string(None))),
            drop=sql.SQL("DROP FUNCTION IF EXISTS {}(boolean)").format(name),
            description=f"function listing the grants of {grant.table} to the tenant, which "
            f"the policies of {declared} read (once per statement, when a row is not the "
            "tenant's)",
        )
    ]


def _clauses(rules: Rules, relation: QualifiedName, *, write: bool) -> list[Clause]:
    own = _own(rules, relation)
    granted = _granted(rules, relation, write=write)
    return [Clause(own, own), *([granted] if granted is not None else [])]


@dataclass(frozen=True)
class Policy:
    name: str
    command: str
    roles: tuple[str, ...]
    using: list[Clause] | None
    check: list[Clause] | None

    def terms(self, relation: QualifiedName) -> dict[str, list[str]]:
        """What the policy lets through, independent of the relation's name (so a partition's
        policies compare like their parent's)."""

        def text(parts: list[Clause] | None) -> list[str]:
            name = sql.Identifier(relation.name).as_string(None) + "."
            return sorted(p.term.as_string(None).replace(name, "") for p in parts or [])

        return {"roles": sorted(self.roles), "using": text(self.using), "check": text(self.check)}


def policies(rules: Rules, relation: QualifiedName) -> list[Policy]:
    read = _clauses(rules, relation, write=False)
    write = _clauses(rules, relation, write=True)
    found = [
        Policy(PREFIX + "select", "SELECT", rules.readers, read, None),
        Policy(PREFIX + "insert", "INSERT", rules.writers, None, write),
        Policy(PREFIX + "update", "UPDATE", rules.writers, write, write),
        Policy(PREFIX + "delete", "DELETE", rules.writers, write, None),
    ]
    if rules.admin is not None:
        everything = [Clause(sql.SQL("true"), sql.SQL("true"))]
        found.append(Policy(PREFIX + "admin", "ALL", (rules.admin,), everything, everything))
    return found


def widening(
    old: Mapping[str, Sequence[str]] | None, new: Mapping[str, Sequence[str]]
) -> list[str]:
    """How ``new`` lets more through than ``old`` (empty: it does not). Each clause is OR-ed,
    so a clause that was not there before, or a role that was not, widens."""
    if old is None:
        return []
    why = []
    old_roles = set(old.get("roles", ()))
    if PUBLIC not in old_roles:
        added = set(new["roles"]) - old_roles
        if added:
            why.append("now applies to " + ", ".join(sorted(added)))
    for key in ("using", "check"):
        for clause in set(new[key]) - set(old.get(key, ())):
            why.append(f"{key} allows {clause}")
    return why


def policy_object(
    relation: Table, policy: Policy, declared: Table, old: Mapping[str, Sequence[str]] | None
) -> DesiredObject:
    roles = sql.SQL(", ").join(
        sql.SQL(PUBLIC) if r == PUBLIC else sql.Identifier(r) for r in policy.roles
    )
    parts = [
        sql.SQL("CREATE POLICY {} ON {} AS PERMISSIVE FOR {} TO {}").format(
            sql.Identifier(policy.name), relation.name.ident, sql.SQL(policy.command), roles
        )
    ]
    if policy.using is not None:
        parts.append(
            sql.SQL("USING ({})").format(sql.SQL(" OR ").join(c.runs for c in policy.using))
        )
    if policy.check is not None:
        parts.append(
            sql.SQL("WITH CHECK ({})").format(sql.SQL(" OR ").join(c.runs for c in policy.check))
        )
    terms = policy.terms(relation.name)
    # The terms ride along as the policy's comment: the next plan reads them back to judge
    # whether a change widens access.
    create = sql.SQL("{}; COMMENT ON POLICY {} ON {} IS {}").format(
        sql.SQL(" ").join(parts),
        sql.Identifier(policy.name),
        relation.name.ident,
        sql.Literal(json.dumps(terms, sort_keys=True)),
    )
    why = widening(old, terms)
    alert = f" -- WIDENS ACCESS: {'; '.join(why)}" if why else ""
    return DesiredObject(
        ref=ObjectRef("policy", relation.name.schema, policy.name, relation.name),
        feature=NAME,
        table=declared.name,
        create=create,
        drop=sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(
            sql.Identifier(policy.name), relation.name.ident
        ),
        description=f"policy {policy.command} of {relation.name} for "
        f"{', '.join(policy.roles)}{alert}",
        lock=Lock("ACCESS EXCLUSIVE", relation.name),
    )


def forced(relation: Table, declared: Table, bypasses: Sequence[str] = ()) -> DesiredObject:
    return DesiredObject(
        ref=ObjectRef("forced_row_security", relation.name.schema, relation.name.name),
        feature=NAME,
        table=declared.name,
        create=sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY").format(
            relation.name.ident
        ),
        drop=sql.SQL(
            "ALTER TABLE IF EXISTS {} NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY"
        ).format(relation.name.ident),
        description=f"row level security on {relation.name}, forced on its owner too "
        "(without a policy for it a role sees no row: fails closed)"
        + (f" -- BYPASSED BY: {'; '.join(bypasses)}" if bypasses else ""),
        lock=Lock("ACCESS EXCLUSIVE", relation.name),
    )
