"""The workspace blueprint (seed 002): organizations, projects, tasks with dependencies,
events from Linear / GitHub / Slack, analytics, prompts, learning and codebase analysis, one
organization per tenant.

``install(url)`` runs the blueprint's migrations (as its owner role once it exists), applies
its declaration (``pgwarden.toml`` beside this file: roles, row-level security, graph,
partitions, search, analytics views), makes the event partitions and the tenants' read views
of the analytics; :func:`app_warden` connects as the app role;
:class:`~pgwarden.blueprints.workspace.services.Workspace` is the service layer and
:func:`~pgwarden.blueprints.workspace.api.create_app` the HTTP API. See
docs/blueprints/workspace.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pgwarden._names import QualifiedName
from pgwarden.blueprints import _install, _roles
from pgwarden.blueprints.workspace import _analytics
from pgwarden.spec import Spec
from pgwarden.warden import Warden

DECLARATION = Path(__file__).parent / "pgwarden.toml"
SCHEMA = "workspace"
ROLE_PREFIX = "workspace"
"""The declaration's roles are ``workspace_owner``, ``_app``, ``_readonly``, ``_admin``;
another prefix names them ``<prefix>_owner``, ... (roles are cluster-wide)."""


def declaration(role_prefix: str = ROLE_PREFIX) -> Spec:
    """The blueprint's policies and its roles, named ``<role_prefix>_owner``, ..."""
    return _roles.prefixed_declaration(DECLARATION, ROLE_PREFIX, role_prefix)


def app_warden(url: str, spec: Spec | None = None, **options: object) -> Warden:
    """A :class:`Warden` for the services, connected as the app role (row-level security
    applies to it), signing tenants with the key read through ``url`` (the installer's)."""
    return _roles.app_warden(url, spec or declaration(), **options)


def tables(spec: Spec | None = None) -> list[QualifiedName]:
    """The tables the declaration covers: what apply may touch for the blueprint."""
    return list((spec or declaration()).tables)


def install(
    url: str,
    *,
    now: dt.datetime | None = None,
    since: dt.datetime | None = None,
    step: Callable[[str], None] | None = None,
    role_prefix: str = ROLE_PREFIX,
) -> Warden:
    """Migrate, apply the declaration (roles, the blueprint's tables and its analytics
    views), make the event partitions of ``now`` (default: the present) and the months after
    (and from ``since`` on, for a history to load: premake makes no past month by itself),
    give the roles their per-tenant analytics views, and apply again (new partitions get
    their per-partition objects). ``url`` is a superuser's (the admin role is ``BYPASSRLS``).
    The app role's password is ``$WORKSPACE_APP_PASSWORD`` when set, else a random one (set
    in this process's environment). Returns a :class:`Warden` on ``url`` with the
    declaration; the caller closes it. Idempotent."""
    from pgwarden.blueprints.workspace import _migrate  # alembic: the workspace extra

    say = step or (lambda _: None)
    spec = declaration(role_prefix)
    warden = _install.migrated(url, spec, SCHEMA, _migrate.upgrade, say)
    with warden.connect(autocommit=True) as conn:
        _analytics.create_schema(conn)
    only = tables(spec)
    say("apply")
    warden.apply(only=only)
    say("partitions")
    if since is not None:
        for month in range(0, max(0, ((now or dt.datetime.now(dt.UTC)) - since).days), 28):
            _install.make_partitions(warden, only, since + dt.timedelta(days=month))
    _install.make_partitions(warden, only, now)
    say("analytics")
    with warden.connect() as conn:
        _analytics.grant_reads(conn, spec)
    _install.settle(warden, only)
    return warden


def teardown(url: str, *, role_prefix: str = ROLE_PREFIX) -> None:
    """Remove what pgwarden built on the blueprint's tables and views, then every migration.
    The roles stay (cluster-wide)."""
    spec = declaration(role_prefix)
    with Warden(url, spec=spec) as warden, warden.connect() as conn:
        _analytics.drop_views(conn)
    warden = Warden(url, spec=replace(spec, tables={}, sections=_install.without_views(spec)))
    try:
        warden.apply(only=tables(spec))
        with warden.connect(autocommit=True) as conn:
            _analytics.drop_schema(conn)
    finally:
        warden.close()
    from pgwarden.blueprints.workspace import _migrate

    _migrate.downgrade(url)


__all__ = [
    "DECLARATION",
    "ROLE_PREFIX",
    "SCHEMA",
    "app_warden",
    "declaration",
    "install",
    "tables",
    "teardown",
]
