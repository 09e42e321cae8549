"""Security: SECURITY DEFINER without search_path, views bypassing RLS, PUBLIC CREATE on
schemas, md5 passwords, login superusers, RLS policies that do nothing."""

from __future__ import annotations

from collections.abc import Iterator

from pgwarden.ops.monitor._checks._common import USER_NS, q
from pgwarden.ops.monitor._engine import CannotCheck, Ctx, check
from pgwarden.ops.monitor._model import Finding, Fix, Severity


@check(
    "security.definer_search_path",
    "SECURITY DEFINER functions without a fixed search_path",
    "pg_proc.prosecdef, proconfig",
    fixable=True,
)
def _definer(ctx: Ctx) -> Iterator[Finding]:
    rows = ctx.rows(
        f"""
        select n.nspname as schema, p.oid::regprocedure::text as signature,
               pg_get_userbyid(p.proowner) as owner
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where p.prosecdef and {USER_NS}
           and not exists (select 1 from unnest(coalesce(p.proconfig, '{{}}')) c
                            where c like 'search\\_path=%%')
           and not exists (select 1 from pg_depend d where d.objid = p.oid
                            and d.classid = 'pg_proc'::regclass and d.deptype = 'e')
        """
    )
    for r in rows:
        yield Finding(
            "security.definer_search_path",
            Severity.WARNING,
            f"function {r['signature']}",
            {},
            f"runs as {r['owner']} with the caller's search_path: a caller can plant objects "
            "it resolves; pin search_path",
            Fix(
                (
                    f"ALTER FUNCTION {r['signature']} SET search_path = "
                    f"pg_catalog, {q(r['schema'])}, pg_temp",
                ),
                "ACCESS EXCLUSIVE (function)",
                True,
                "pin the function's search_path",
            ),
        )


@check(
    "security.view_bypasses_rls",
    "Views over row-level-secured tables that run as their owner",
    "pg_class.reloptions (security_invoker, PostgreSQL 15+), pg_depend, relrowsecurity",
    fixable=True,
)
def _views(ctx: Ctx) -> Iterator[Finding]:
    rows = ctx.rows(
        f"""
        select distinct n.nspname as schema, v.relname as name,
               coalesce(v.reloptions, '{{}}') as options,
               t.oid::regclass::text as secured
          from pg_class v
          join pg_namespace n on n.oid = v.relnamespace
          join pg_rewrite r on r.ev_class = v.oid
          join pg_depend d on d.objid = r.oid and d.classid = 'pg_rewrite'::regclass
          join pg_class t on t.oid = d.refobjid and t.oid <> v.oid
         where v.relkind in ('v', 'm') and t.relrowsecurity and {USER_NS}
        """
    )
    for r in rows:
        opts = {o.lower() for o in r["options"]}
        if {"security_invoker=true", "security_invoker=on", "security_invoker=1"} & opts:
            continue
        name = q(r["schema"], r["name"])
        fix = None
        if ctx.major >= 15:
            fix = Fix(
                (f"ALTER VIEW {name} SET (security_invoker = true)",),
                "ACCESS EXCLUSIVE",
                True,
                "apply the tables' policies to the caller",
            )
        yield Finding(
            "security.view_bypasses_rls",
            Severity.WARNING,
            name,
            {},
            f"reads {r['secured']} (row-level security) with its owner's rights, so the "
            "policies do not apply to callers"
            + (
                "; set security_invoker"
                if ctx.major >= 15
                else "; upgrade to 15+ for "
                "security_invoker, or revoke it from roles the policies restrict"
            ),
            fix,
        )


@check(
    "security.definer_reads_rls",
    "SECURITY DEFINER functions that read row-level-secured tables",
    "pg_proc.prosecdef, prosrc (by table name), pg_class.relrowsecurity",
)
def _definer_rls(ctx: Ctx) -> Iterator[Finding]:
    # A function body is not tracked by pg_depend (unless SQL-standard): found by the table
    # names it mentions.
    rows = ctx.rows(
        f"""
        select p.oid::regprocedure::text as signature, pg_get_userbyid(p.proowner) as owner,
               string_agg(distinct t.oid::regclass::text, ', ') as secured
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          join pg_class t on t.relrowsecurity and t.relkind in ('r', 'p')
           and p.prosrc ~* ('(^|[^a-z0-9_$])' || t.relname || '($|[^a-z0-9_$])')
         where p.prosecdef and {USER_NS}
         group by p.oid, p.proowner
        """
    )
    for r in rows:
        yield Finding(
            "security.definer_reads_rls",
            Severity.WARNING,
            f"function {r['signature']}",
            {},
            f"reads {r['secured']} (row-level security) as {r['owner']}: policies apply to "
            "the owner, not the caller; make it SECURITY INVOKER or check the caller itself",
        )


@check(
    "security.public_create",
    "Schemas where every role (PUBLIC) may create objects",
    "pg_namespace.nspacl",
    fixable=True,
)
def _public_create(ctx: Ctx) -> Iterator[Finding]:
    rows = ctx.rows(
        f"""
        select n.nspname as schema from pg_namespace n
         where {USER_NS}
           and exists (select 1 from aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner)))
                        a where a.grantee = 0 and a.privilege_type = 'CREATE')
        """
    )
    for r in rows:
        yield Finding(
            "security.public_create",
            Severity.WARNING,
            f"schema {q(r['schema'])}",
            {},
            "any role can create objects that others' unqualified names resolve to: revoke "
            "it and grant CREATE to the roles that own the schema's objects",
            Fix(
                (f"REVOKE CREATE ON SCHEMA {q(r['schema'])} FROM PUBLIC",),
                "none",
                True,
                "revoke CREATE from PUBLIC",
            ),
        )


@check(
    "security.md5_passwords",
    "Roles with md5 password hashes (and md5 as the hashing default)",
    "pg_authid.rolpassword (superuser only), password_encryption",
)
def _md5(ctx: Ctx) -> Iterator[Finding]:
    if ctx.setting("password_encryption") == "md5":
        yield Finding(
            "security.md5_passwords",
            Severity.WARNING,
            "setting password_encryption",
            {},
            "new passwords are hashed with md5: set it to scram-sha-256",
        )
    if not ctx.superuser:
        raise CannotCheck("reading password hashes (pg_authid) needs a superuser")
    for r in ctx.rows("select rolname from pg_authid where rolpassword like 'md5%%'"):
        yield Finding(
            "security.md5_passwords",
            Severity.WARNING,
            f"role {r['rolname']}",
            {},
            "md5 hashes are weak and deprecated: set the password again with "
            "password_encryption = scram-sha-256",
        )


@check(
    "security.superuser_login",
    "Login roles with superuser, other than the bootstrap superuser",
    "pg_roles",
)
def _superusers(ctx: Ctx) -> Iterator[Finding]:
    rows = ctx.rows("select rolname from pg_roles where rolsuper and rolcanlogin and oid <> 10")
    for r in rows:
        yield Finding(
            "security.superuser_login",
            Severity.WARNING,
            f"role {r['rolname']}",
            {},
            "applications and people should log in with least privilege: make it NOLOGIN or "
            "NOSUPERUSER, and grant what it needs",
        )


@check(
    "security.rls_disabled",
    "Tables with policies but row-level security off",
    "pg_policy, pg_class.relrowsecurity",
    fixable=True,
)
def _rls_disabled(ctx: Ctx) -> Iterator[Finding]:
    rows = ctx.rows(
        f"""
        select n.nspname as schema, c.relname as name, count(p.oid) as policies
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
          join pg_policy p on p.polrelid = c.oid
         where not c.relrowsecurity and {USER_NS}
         group by 1, 2
        """
    )
    for r in rows:
        name = q(r["schema"], r["name"])
        yield Finding(
            "security.rls_disabled",
            Severity.WARNING,
            name,
            {"policies": r["policies"]},
            "its policies are not enforced because row-level security is off: enable it",
            Fix(
                (f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",),
                "ACCESS EXCLUSIVE",
                True,
                "enforce the table's policies",
            ),
        )


@check(
    "security.rls_no_policy",
    "Tables with row-level security on but no policy (every row hidden)",
    "pg_class.relrowsecurity, pg_policy",
)
def _rls_no_policy(ctx: Ctx) -> Iterator[Finding]:
    rows = ctx.rows(
        f"""
        select n.nspname as schema, c.relname as name
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.relrowsecurity and {USER_NS}
           and not exists (select 1 from pg_policy p where p.polrelid = c.oid)
        """
    )
    for r in rows:
        yield Finding(
            "security.rls_no_policy",
            Severity.INFO,
            q(r["schema"], r["name"]),
            {},
            "roles other than its owner see no rows: add policies, or this is intended",
        )


@check(
    "security.roles_privileged",
    "Declared app / read-only roles ([roles]) that are superuser, BYPASSRLS, own objects "
    "or may become a privileged role",
    "pg_roles, pg_auth_members, owners in the declared schemas",
)
def _roles_privileged(ctx: Ctx) -> Iterator[Finding]:
    from pgwarden.roles._config import declared_roles
    from pgwarden.roles._grants import PROFILES
    from pgwarden.roles._plan import role_problems
    from pgwarden.roles._read import Reader

    section = declared_roles(ctx.spec)
    declared = {s: r for s in PROFILES if (r := getattr(section, s)) is not None}
    if not declared:
        return
    schemas = list(section.schemas or sorted({n.schema for n in ctx.spec.tables}))
    for slot, why in role_problems(declared, schemas, Reader(ctx.conn)):
        yield Finding("security.roles_privileged", Severity.CRITICAL, f"roles.{slot}", {}, why)
