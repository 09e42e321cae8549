"""The tenants' way into the analytics materialized views and the events archive.

A materialized view has no row-level security: granted to the app role, every organization
would read every other's figures. The views are declared in schema ``workspace_analytics``,
where the roles module grants nothing; install adds one ``security_barrier`` view per
materialized view, owned by the installer, that shows the rows of the session's verified
tenant only, and grants the app and read-only roles ``SELECT`` on those views alone.

The events archive (``archive.workspace__events``, where retention hands old months) is in
schema ``archive``, which the roles module does not manage either: ``workspace.events__all``
(live and archived events, ``security_invoker``) needs ``SELECT`` on it, granted here, read
only; its row-level security is forced like the live table's.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from pgwarden.roles import declared_roles
from pgwarden.spec import Spec

SCHEMA = "workspace_analytics"
VIEWS = {"task_days": "daily_task_summary", "event_days": "daily_event_summary"}
"""Tenant view -> the materialized view it filters."""
ARCHIVE = ("archive", "workspace__events")


def create_schema(conn: psycopg.Connection[Any]) -> None:
    """The views' schema, by the installer (the owner role that runs the migrations may not
    create schemas)."""
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(SCHEMA)))


def grant_reads(conn: psycopg.Connection[Any], spec: Spec) -> None:
    """(Re)create the tenant views; grant them and the events archive to the app and
    read-only roles."""
    roles = declared_roles(spec)
    readers = [r.name for r in (roles.app, roles.readonly) if r is not None]
    schema = sql.Identifier(SCHEMA)
    with conn.transaction():
        for view, matview in VIEWS.items():
            conn.execute(
                sql.SQL(
                    "create or replace view {view} with (security_barrier) as "
                    "select * from {mv} where organization_id = "
                    "(select warden.tenant()::bigint)"
                ).format(view=sql.Identifier(SCHEMA, view), mv=sql.Identifier(SCHEMA, matview))
            )
        for reader in readers:
            who = sql.Identifier(reader)
            conn.execute(sql.SQL("grant usage on schema {} to {}").format(schema, who))
            for view in VIEWS:
                target = sql.Identifier(SCHEMA, view)
                conn.execute(sql.SQL("grant select on {} to {}").format(target, who))
            if conn.execute("select to_regclass(%s)", [".".join(ARCHIVE)]).fetchone() != (None,):
                archive = sql.Identifier(ARCHIVE[0])
                conn.execute(sql.SQL("grant usage on schema {} to {}").format(archive, who))
                conn.execute(
                    sql.SQL("grant select on {} to {}").format(sql.Identifier(*ARCHIVE), who)
                )


def drop_views(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        for view in VIEWS:
            conn.execute(sql.SQL("drop view if exists {}").format(sql.Identifier(SCHEMA, view)))


def drop_schema(conn: psycopg.Connection[Any]) -> None:
    """The schema, once pgwarden has removed the materialized views (``RESTRICT``: anything
    else in it stops the teardown rather than vanish)."""
    conn.execute(sql.SQL("drop schema if exists {}").format(sql.Identifier(SCHEMA)))
