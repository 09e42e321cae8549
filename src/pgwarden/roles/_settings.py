"""A declared role's settings in this database: ``ALTER ROLE ... IN DATABASE ... SET``.

Each setting is one owned object (kind ``role_setting``), so a value changed or reset by hand
shows as drift, and removing it puts back what the role had before pgwarden set it (read at
the first plan and kept in the ledger, like a grant's previous privileges).
"""

from __future__ import annotations

import re

from psycopg import sql

from pgwarden.engine import DesiredObject, Kind, ObjectRef, stored_sql
from pgwarden.errors import RolesError
from pgwarden.features._base import PlanContext
from pgwarden.roles._config import RoleSpec, SettingValue
from pgwarden.roles._read import Reader

# Settings a role's defaults may hold: those a session may change itself, and those a
# superuser may (the apply's role must then be one; PostgreSQL says so if it is not).
_CONTEXTS = ("user", "superuser")

ROLE_SETTING = Kind(
    "role_setting",
    3,
    """select s.cfg from pg_db_role_setting d
         cross join lateral unnest(d.setconfig) s(cfg)
        where d.setdatabase = (select oid from pg_database where datname = current_database())
          and d.setrole = (select oid from pg_roles where rolname = %(schema)s)
          and split_part(s.cfg, '=', 1) = %(name)s""",
    or_replace=True,  # SET replaces the value in place
    drop_lock=None,
)


def setting_ref(role: str, name: str) -> ObjectRef:
    return ObjectRef("role_setting", role, name)


def _value(value: SettingValue) -> sql.Composable:
    if isinstance(value, bool):
        return sql.Literal("on" if value else "off")
    if isinstance(value, list):
        # A list setting (search_path) takes one literal per element.
        return sql.SQL(", ").join(sql.Literal(v) for v in value)
    return sql.Literal(str(value))


# Settings whose value is a list: stored as "a, b" (elements double-quoted when needed), set
# again one literal per element.
_LISTS = frozenset(
    {"search_path", "temp_tablespaces", "local_preload_libraries", "session_preload_libraries"}
)


_ELEMENT = re.compile(r'\s*(?:"((?:[^"]|"")*)"|([^,]*?))\s*(?:,|$)')


def _stored(name: str, text: str) -> sql.Composable:
    """A value as ``pg_db_role_setting`` keeps it, as SET takes it again."""
    if name not in _LISTS:
        return sql.Literal(text)
    elements = [
        quoted.replace('""', '"') if bare == "" else bare for quoted, bare in _ELEMENT.findall(text)
    ]
    return _value([e for e in elements if e])


def _set(role: str, database: str, name: str, value: sql.Composable) -> sql.Composed:
    return sql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = {}").format(
        sql.Identifier(role), sql.Identifier(database), sql.Identifier(name), value
    )


_WHEN = {
    "postmaster": "at server start",
    "sighup": "in the server's configuration",
    "internal": "by the server itself",
    "backend": "when a connection starts, by the client",
    "superuser-backend": "when a connection starts",
}


def settings_objects(
    slot: str, spec: RoleSpec, ctx: PlanContext, reader: Reader
) -> list[DesiredObject]:
    """One object per declared setting of ``spec``; an unknown setting, or one no role
    default may hold (``shared_buffers``), is a :class:`RolesError` naming its key."""
    database = ctx.catalog.server.database
    found = []
    for name, value in sorted(spec.settings.items()):
        key = f"roles.{slot}.settings.{name}"
        context = reader.setting_contexts.get(name.lower())
        if context is None:
            raise RolesError(f"unknown setting {name}", file=ctx.spec.file, key=key)
        if context not in _CONTEXTS:
            raise RolesError(
                f"{name} cannot be a role's default (it is set {_WHEN.get(context, context)})",
                file=ctx.spec.file,
                key=key,
            )
        name = name.lower()
        ref = setting_ref(spec.name, name)
        recorded = reader.recorded_drops.get(ref.key)
        drop: sql.SQL | sql.Composed
        if recorded is not None:
            drop = stored_sql(recorded)
        else:
            before = reader.role_setting(spec.name, name)
            drop = (
                _set(spec.name, database, name, _stored(name, before))
                if before is not None
                else sql.SQL("ALTER ROLE {} IN DATABASE {} RESET {}").format(
                    sql.Identifier(spec.name), sql.Identifier(database), sql.Identifier(name)
                )
            )
        found.append(
            DesiredObject(
                ref=ref,
                feature="roles",
                table=None,
                create=_set(spec.name, database, name, _value(value)),
                drop=drop,
                description=f"{spec.name} ({slot}) starts its sessions in {database} with "
                f"{name} = {_shown(value)}",
            )
        )
    return found


def _shown(value: SettingValue) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return ", ".join(value) if isinstance(value, list) else str(value)
