"""``[roles]`` in ``pgwarden.toml``: four roles with least privilege on the declared schemas.

::

    [roles]
    schemas = ["app"]                # default: the schemas of the declared tables
    owner = "kitaab_owner"           # owns the schema objects; migrations run as it
    app = { name = "kitaab_app", password = "env:KITAAB_APP_PASSWORD",
            settings = { plan_cache_mode = "force_generic_plan", statement_timeout = "5s" } }
    readonly = "kitaab_readonly"
    admin = "kitaab_admin"

A role given by name alone is adopted when it exists and created (``NOLOGIN`` unless it is the
app role) when it does not. Passwords are never in the file: ``password = "env:NAME"`` is read
from the environment when the plan is applied, and never printed. ``settings`` are the role's
defaults in this database (``ALTER ROLE ... IN DATABASE ... SET``): every session it opens
here starts with them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SettingValue = str | int | float | bool | list[str]


class RoleSpec(BaseModel):
    """One declared role: its name, and how it logs in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=63)
    password: str | None = None
    """``env:NAME``: the password is read from that environment variable at apply time."""
    login: bool | None = None
    """Whether the role can log in; default: the app and admin roles can, the others cannot."""
    settings: dict[str, SettingValue] = Field(default_factory=dict)
    """Server settings the role's sessions in this database start with (``statement_timeout``,
    ``plan_cache_mode``, ...); a list is a list setting (``search_path``)."""

    @field_validator("password")
    @classmethod
    def _password_from_environment(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("env:"):
            raise ValueError(
                'a password is never written in the file: use password = "env:VARIABLE"'
            )
        return value


def _role(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class RolesSection(BaseModel):
    """``[roles]``: which roles exist for the declared schemas, and who each one is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schemas: list[str] | None = None
    """Schemas the roles are granted on; ``None``: the schemas of the declared tables."""
    owner: RoleSpec | None = None
    app: RoleSpec | None = None
    readonly: RoleSpec | None = None
    admin: RoleSpec | None = None

    @field_validator("owner", "app", "readonly", "admin", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _role(value)

    @model_validator(mode="after")
    def _distinct(self) -> RolesSection:
        names = [r.name for r in (self.owner, self.app, self.readonly, self.admin) if r]
        if len(names) != len(set(names)):
            raise ValueError("owner, app, readonly and admin must be different roles")
        return self

    @property
    def declared(self) -> bool:
        return any((self.owner, self.app, self.readonly, self.admin))


def declared_roles(spec: Any) -> RolesSection:
    """The ``[roles]`` section of ``spec`` (a :class:`pgwarden.spec.Spec`), or an empty one."""
    section: RolesSection = spec.section("roles", RolesSection)
    return section
