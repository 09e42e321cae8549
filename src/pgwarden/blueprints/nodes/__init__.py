"""The nodes blueprint (seed 000): a unified node system — nodes and typed relationships —
whose hand-written audit, versions, soft delete, archive, search, partitions, analytics and
RLS are pgwarden declarations.

``install(url)`` runs the blueprint's migrations, applies its declaration (``pgwarden.toml``
beside this file: roles, policies, row-level security, materialized views) and makes the
event partitions; :func:`app_warden` connects as the app role;
:class:`~pgwarden.blueprints.nodes.services.Nodes` is the service layer and
:func:`~pgwarden.blueprints.nodes.api.create_app` the HTTP API. See docs/blueprints/nodes.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pgwarden._names import QualifiedName
from pgwarden.blueprints import _install, _roles
from pgwarden.spec import Spec
from pgwarden.warden import Warden

DECLARATION = Path(__file__).parent / "pgwarden.toml"
SCHEMA = "nodes"
ROLE_PREFIX = "nodes"
"""The declaration's roles are ``nodes_owner``, ``nodes_app``, ``nodes_readonly`` and
``nodes_admin``; another prefix names them ``<prefix>_owner``, ... (roles are cluster-wide)."""
NODES = "nodes.nodes"
RELATIONSHIPS = "nodes.node_relationships"
EVENTS = "nodes.node_events"


def declaration(role_prefix: str = ROLE_PREFIX) -> Spec:
    """The blueprint's policies and its roles, named ``<role_prefix>_owner``, ..."""
    return _roles.prefixed_declaration(DECLARATION, ROLE_PREFIX, role_prefix)


def tables(spec: Spec | None = None) -> list[QualifiedName]:
    """The tables the declaration covers: what apply may touch for the blueprint."""
    return list((spec or declaration()).tables)


def app_warden(url: str, role_prefix: str = ROLE_PREFIX, **options: object) -> Warden:
    """A :class:`Warden` for the services: the app role of the roles named ``role_prefix``
    (row-level security applies to it), tenants signed with the key read through ``url``."""
    return _roles.app_warden(url, declaration(role_prefix), **options)


def install(
    url: str,
    *,
    now: dt.datetime | None = None,
    step: Callable[[str], None] | None = None,
    role_prefix: str = ROLE_PREFIX,
) -> Warden:
    """Migrate, apply the declaration (roles, the blueprint's tables, its materialized views),
    make the event partitions ``now`` needs, apply again. ``url`` is a superuser's (the
    admin role is ``BYPASSRLS``). Returns a :class:`Warden` on ``url``; the caller closes it.
    Idempotent."""
    from pgwarden.blueprints.nodes import _migrate  # alembic: the nodes extra

    say = step or (lambda _: None)
    spec = declaration(role_prefix)
    warden = _install.migrated(url, spec, SCHEMA, _migrate.upgrade, say)
    return _install.applied(warden, tables(spec), now, say)


def teardown(url: str, *, role_prefix: str = ROLE_PREFIX) -> None:
    """Remove what pgwarden built on the blueprint's tables, then every migration (the roles
    stay: they are cluster-wide)."""
    spec = declaration(role_prefix)
    warden = Warden(url, spec=replace(spec, tables={}, sections=_install.without_views(spec)))
    try:
        warden.apply(only=tables(spec))
    finally:
        warden.close()
    from pgwarden.blueprints.nodes import _migrate

    _migrate.downgrade(url)


__all__ = ["DECLARATION", "EVENTS", "NODES", "RELATIONSHIPS", "ROLE_PREFIX", "SCHEMA",
           "app_warden", "declaration", "install", "tables", "teardown"]  # fmt: skip
