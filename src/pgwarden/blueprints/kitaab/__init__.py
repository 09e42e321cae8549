"""Kitaab, the seed's personal accountability app, on pgwarden.

``install(url)`` runs the blueprint's migrations (as its owner role once it exists), applies
its declaration (``pgwarden.toml`` beside this file: its roles, policies and row-level
security) and creates the current partitions; :func:`app_warden` connects as the app role;
:class:`~pgwarden.blueprints.kitaab.services.Kitaab` is the service layer and
:func:`~pgwarden.blueprints.kitaab.api.create_app` the HTTP API. See docs/blueprints/kitaab.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pgwarden._names import QualifiedName
from pgwarden.blueprints import _install, _roles
from pgwarden.blueprints._roles import prefixed_declaration
from pgwarden.spec import Spec
from pgwarden.warden import Warden

DECLARATION = Path(__file__).parent / "pgwarden.toml"
SCHEMA = "kitaab"
ROLE_PREFIX = "kitaab"
"""The declaration's roles are ``kitaab_owner``, ``kitaab_app``, ``kitaab_readonly`` and
``kitaab_admin``; another prefix names them ``<prefix>_owner``, ... (roles are cluster-wide:
two installs on one server that must not share roles, such as parallel tests, use two)."""


def declaration(role_prefix: str = ROLE_PREFIX) -> Spec:
    """The blueprint's policies (audit, versioning, soft delete, partitions, archive,
    tenancy) and its roles, named ``<role_prefix>_owner``, ``_app``, ``_readonly``, ``_admin``."""
    return prefixed_declaration(DECLARATION, ROLE_PREFIX, role_prefix)


def app_url(url: str, spec: Spec | None = None) -> str:
    """``url`` logging in as the declaration's app role, with its password from the
    environment variable the declaration names (when set)."""
    return _roles.app_url(url, spec or declaration())


def app_warden(url: str, spec: Spec | None = None, **options: object) -> Warden:
    """A :class:`Warden` for the Kitaab services that connects as the app role (row-level
    security applies to it), signing tenants with the tenancy key read through ``url`` (a
    role that may read it: the installer's) unless ``$PGWARDEN_TENANT_KEY`` holds it."""
    return _roles.app_warden(url, spec or declaration(), **options)


def tables(spec: Spec | None = None) -> list[QualifiedName]:
    """The tables the declaration covers: what apply may touch for the blueprint."""
    return list((spec or declaration()).tables)


def install(
    url: str,
    *,
    now: dt.datetime | None = None,
    step: Callable[[str], None] | None = None,
    role_prefix: str = ROLE_PREFIX,
) -> Warden:
    """Migrate (as the owner role once it owns the schema; the first time as ``url``'s role,
    and the apply gives the owner role the schema), apply the declaration (the roles, and
    only the blueprint's tables), create the partitions the current year needs, and apply
    again (a partition made by maintenance gets its per-partition objects, such as audit's
    TRUNCATE trigger, from an apply). ``url`` is a superuser's (creating a ``BYPASSRLS``
    admin role needs one). The app role's password is ``$KITAAB_APP_PASSWORD`` when the role
    is created; unset, a random one is made (and set in this process's environment).
    Returns a :class:`Warden` on ``url`` with the blueprint's declaration; the caller closes
    it. Idempotent."""
    from pgwarden.blueprints.kitaab import _migrate  # alembic: the kitaab extra

    say = step or (lambda _: None)
    spec = declaration(role_prefix)
    warden = _install.migrated(url, spec, SCHEMA, _migrate.upgrade, say)
    return _install.applied(warden, tables(spec), now, say)


def teardown(url: str, *, role_prefix: str = ROLE_PREFIX) -> None:
    """Remove what pgwarden built on the blueprint's tables, then every migration. The roles
    stay, with their grants on schema kitaab (they are cluster-wide: another database may
    use them); a declaration without ``[roles]`` applied on the database removes them."""
    spec = declaration(role_prefix)
    warden = Warden(url, spec=replace(spec, tables={}))
    try:
        warden.apply(only=tables(spec))
    finally:
        warden.close()
    from pgwarden.blueprints.kitaab import _migrate

    _migrate.downgrade(url)


__all__ = [
    "DECLARATION",
    "ROLE_PREFIX",
    "SCHEMA",
    "app_url",
    "app_warden",
    "declaration",
    "install",
    "tables",
    "teardown",
]
