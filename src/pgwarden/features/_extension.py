"""Extension ``pgwarden_wal`` (``ext/pgwarden_wal``, built for each server): C twins of what
audit and tenancy otherwise do in SQL. One database-wide object serves both features: each
wants the same :func:`wanted_extension` (same SQL: the server's newest version), so the
extension stays while either is declared, and its drop never takes a trigger or a policy
with it."""

from __future__ import annotations

from psycopg import sql

from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.features._base import PlanContext, sql_template

EXTENSION = ObjectRef("extension", "warden_wal", "pgwarden_wal")
"""The extension holding the C twins."""
C_MARK_FUNCTION = ObjectRef("function", "warden_wal", "statement")
"""WAL capture's context trigger in C: the same flag, message and MAC, for a fraction of the
cost."""
C_CAPTURE_FUNCTION = ObjectRef("function", "warden_wal", "audit_capture")
"""Trigger capture's statement trigger in C (INSERT, UPDATE, DELETE of a table that is not
partitioned): the events the PL/pgSQL function would write, for a fraction of its cost."""
C_TENANT_FUNCTION = ObjectRef("function", "warden_wal", "tenant")
"""Tenancy's signed tenant, verified in C once per transaction and claim."""

CONTEXT_VERSION = "1.1"
"""The first version of the extension with trigger capture's context functions."""
CAPTURE_VERSION = "1.2"
"""The first version of the extension with trigger capture's statement trigger in C."""
TENANT_VERSION = "1.3"
"""The first version of the extension with tenancy's verification in C."""


def version(text: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in (text or "0").split("."))
    except ValueError:
        return (0,)


def in_c(
    ctx: PlanContext, wanted: str, what: str, otherwise: str = "PL/pgSQL"
) -> tuple[bool, bool, str]:
    """Whether extension pgwarden_wal at ``wanted`` or later is (or will be) there, whether
    that needs the extension object (:func:`wanted_extension`), and what the plan says of
    ``what`` (in C, or in ``otherwise`` and what would make it C)."""
    server = ctx.catalog.server
    installed = server.extensions.get(EXTENSION.name)
    ours = ctx.owns(EXTENSION)
    available = version(server.available_versions.get(EXTENSION.name))
    new_enough = available >= version(wanted)
    if installed is not None and version(installed) >= version(wanted):
        return True, ours, f"{what} in C (extension {EXTENSION.name} {installed})"
    if installed is not None and ours and new_enough:
        return True, True, f"{what} in C (extension {EXTENSION.name}, updated)"
    if installed is None and new_enough and (ours or server.is_superuser):
        return True, True, f"{what} in C (extension {EXTENSION.name})"
    if installed is not None and new_enough:
        why = f"ALTER EXTENSION {EXTENSION.name} UPDATE (it is at {installed})"
    elif EXTENSION.name not in server.available_extensions or not new_enough:
        why = (
            f"extension {EXTENSION.name} {wanted} built for PostgreSQL "
            f"{server.version_num // 10000} (make -C ext/pgwarden_wal install PG_CONFIG=...)"
        )
    else:
        why = f"a superuser, or CREATE EXTENSION {EXTENSION.name} by a role with CREATE"
    return False, False, f"{what} in {otherwise} (in C with {why})"


def wanted_extension(ctx: PlanContext, feature: str) -> DesiredObject:
    """The extension object, as every feature wanting it wants it: updated to the version
    this server would install (its newest), so that one of ours made older is brought up
    when a plan needs a newer one, and two features never ask for different versions."""
    return extension(ctx.catalog.server.available_versions.get(EXTENSION.name), feature)


def extension(target: str | None = None, feature: str = "audit") -> DesiredObject:
    """CREATE EXTENSION pgwarden_wal, for the whole database; one made at an older version is
    updated (1.1 adds trigger capture's context functions, 1.2 its statement trigger, 1.3
    tenancy's verification), to ``target`` when given."""
    name = sql.Identifier(EXTENSION.name)
    function = sql.Literal(f"{C_MARK_FUNCTION.schema}.{C_MARK_FUNCTION.name}()")
    tenant = sql.Literal(f"{C_TENANT_FUNCTION.schema}.{C_TENANT_FUNCTION.name}()")
    update = sql.SQL("ALTER EXTENSION {} UPDATE").format(name)
    if target is not None:
        update = sql.SQL("{} TO {}").format(update, sql.Literal(target))
    return DesiredObject(
        ref=EXTENSION,
        feature=feature,
        table=None,
        create=sql.SQL("CREATE EXTENSION IF NOT EXISTS {}; {}").format(name, update),
        alter=update,
        # Kept while any trigger calls its WAL context function (one on a table left out of
        # this apply, or one this apply moves to PL/pgSQL): never cascades to a trigger.
        # warden.tenant() in C (which goes back to SQL before it when tenancy goes) is made
        # SQL again first (a drop by hand): the policies calling it keep verifying, in SQL,
        # until the next apply repairs both; never cascades to them.
        # Trigger capture's statement triggers calling warden_wal.audit_capture() (dropped
        # before it when audit goes) are moved first to their table's PL/pgSQL function, the
        # one its TRUNCATE trigger calls, which writes the same events: they never go with
        # it (until the next apply, writes fail there rather than go uncaptured).
        # (Trigger capture's functions, which call its context functions, no longer want it
        # when it goes: they are made again in PL/pgSQL by the same apply.)
        drop=sql.SQL(
            # $drop$: the SQL function's text, in a literal here, holds $$ of its own.
            "DO $drop$ DECLARE r record; BEGIN "
            "IF EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgfoid = "
            "pg_catalog.to_regprocedure({function})) THEN RETURN; END IF; "
            "IF EXISTS (SELECT FROM pg_catalog.pg_depend WHERE classid = "
            "'pg_catalog.pg_proc'::pg_catalog.regclass AND refclassid = "
            "'pg_catalog.pg_proc'::pg_catalog.regclass AND deptype = 'n' AND refobjid = "
            "pg_catalog.to_regprocedure({tenant}) AND objid = "
            "pg_catalog.to_regprocedure('warden.tenant()')) THEN EXECUTE {in_sql}; END IF; "
            "FOR r IN SELECT g.tgrelid::pg_catalog.regclass AS rel, g.tgname, "
            "t.tgfoid::pg_catalog.regproc AS fn FROM pg_catalog.pg_trigger g "
            "JOIN pg_catalog.pg_trigger t ON t.tgrelid = g.tgrelid "
            "AND t.tgname = 'pgwarden_audit_t' "
            "WHERE g.tgfoid = pg_catalog.to_regprocedure({capture}) LOOP "
            "EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER %I AFTER %s ON %s "
            "REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION %s()', r.tgname, "
            "CASE r.tgname WHEN 'pgwarden_audit_i' THEN 'INSERT' "
            "WHEN 'pgwarden_audit_u' THEN 'UPDATE' ELSE 'DELETE' END, r.rel, "
            "CASE r.tgname WHEN 'pgwarden_audit_i' THEN 'NEW TABLE AS new_rows' "
            "WHEN 'pgwarden_audit_u' THEN 'OLD TABLE AS old_rows NEW TABLE AS new_rows' "
            "ELSE 'OLD TABLE AS old_rows' END, r.fn); "
            "END LOOP; DROP EXTENSION IF EXISTS {name}; END $drop$"
        ).format(
            function=function,
            tenant=tenant,
            # Package data (no user input): tenancy's SQL verification, in place of the C one.
            in_sql=sql.Literal(sql_template("pgwarden.features.tenancy", "_tenant_sql.sql")),
            capture=sql.Literal(f"{C_CAPTURE_FUNCTION.schema}.{C_CAPTURE_FUNCTION.name}()"),
            name=name,
        ),
        description=f"extension {EXTENSION.name} (audit's context trigger, context and capture, "
        "tenancy's tenant verification, in C)",
    )
