"""What blueprints whose declaration has ``[roles]`` share: the roles renamed under a prefix
(roles are cluster-wide, so two installs on one server, such as parallel tests, need two
sets), the app role's URL and :class:`Warden`, and the migrations' role."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import psycopg

from pgwarden.roles import declared_roles
from pgwarden.spec import Spec, parse_spec
from pgwarden.warden import Warden

_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,40}")


def prefixed_declaration(path: Path, default: str, prefix: str) -> Spec:
    """The declaration at ``path`` with its roles ``"<default>_owner"``, ``_app``,
    ``_readonly``, ``_admin`` named ``"<prefix>_owner"``, ... instead."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"role_prefix {prefix!r}: lower-case letters, digits and _ only")
    text = path.read_text()
    if prefix != default:
        role = re.compile(rf'"{re.escape(default)}_(owner|app|readonly|admin)"')
        text = role.sub(lambda m: f'"{prefix}_{m.group(1)}"', text)
    return parse_spec(text, file=str(path), path=path)


def app_url(url: str, spec: Spec) -> str:
    """``url`` logging in as the declaration's app role, with its password from the
    environment variable the declaration names (when set)."""
    app = declared_roles(spec).app
    assert app is not None, f"{spec.file} names no app role"
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["user"] = app.name
    params.pop("password", None)
    password = os.environ.get(app.password.removeprefix("env:")) if app.password else None
    if password:
        params["password"] = password
    return psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]


def app_warden(url: str, spec: Spec, **options: Any) -> Warden:
    """A :class:`Warden` that connects as the app role (row-level security applies to it),
    signing tenants with the tenancy key read through ``url`` (a role that may read it: the
    installer's) unless ``$PGWARDEN_TENANT_KEY`` holds it."""
    with Warden(url, spec=spec) as installer:
        key = installer.tenant_key
    return Warden(app_url(url, spec), spec=spec, tenant_key=key, **options)


def ensure_app_password(spec: Spec) -> None:
    """A random password for the app role in this process's environment when the variable
    the declaration names is unset (apply creates the role with it)."""
    import secrets

    app = declared_roles(spec).app
    if app is not None and app.password:
        os.environ.setdefault(app.password.removeprefix("env:"), secrets.token_urlsafe(24))


def migration_role(url: str, schema: str, spec: Spec) -> str | None:
    """The declared owner role when it owns ``schema`` already (migrations then run as it,
    so what they create is its), else None (the first install: ``url``'s role)."""
    owner = declared_roles(spec).owner
    if owner is None:
        return None
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select 1 from pg_namespace n join pg_roles r on r.oid = n.nspowner "
            "where n.nspname = %s and r.rolname = %s",
            (schema, owner.name),
        ).fetchone()
    return owner.name if row else None
