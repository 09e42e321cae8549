"""Options of the ``tenancy`` feature and its ``[tenancy]`` section, as written in
``pgwarden.toml``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator

from pgwarden.spec import FeatureOptions


class GrantOptions(BaseModel):
    """Rows shared through a grant table (or view) the user names::

        grant = { table = "kitaab.entry_access", on = "deed_item_id", grantee = "viewer_id",
                  owner = "owner_id", write = "can_write" }

    A row is visible to a grantee when the grant table has a row with the same ``on`` value,
    the session's tenant as ``grantee`` (and the row's owner as ``owner``, when named); it may
    be written (insert, update, delete) when that grant's ``write`` column is true."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str
    on: str
    """A column both tables have: what the grant is about (an item, a project...)."""
    grantee: str
    """The grant table's column holding who is given access (compared with the tenant)."""
    owner: str | None = None
    """The grant table's column that must equal the row's tenant column (whose rows)."""
    write: str | None = None
    """A boolean column of the grant table: true lets the grantee write the rows."""


class TenancyOptions(FeatureOptions):
    """``tenancy = { column = "org_id" }`` (a tenant key) or, with ``grant``, ownership with
    grants (``column`` is then the owner)."""

    column: str
    """The tenant key (or owner) column: rows belong to the tenant it names."""
    grant: GrantOptions | None = None
    index: bool = True
    """Build an index led by ``column`` when the table has none."""

    @model_validator(mode="after")
    def _distinct(self) -> TenancyOptions:
        if self.grant is not None and self.grant.on == self.column:
            raise ValueError("grant.on must be another column than the tenant column")
        return self


class TenancySection(BaseModel):
    """``[tenancy]``: how the session's tenant is trusted, for every tenanted table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signed: bool = True
    """Policies trust ``pgwarden.tenant`` only with a valid ``pgwarden.tenant_mac`` (an
    HMAC-SHA256 the application makes with the database's tenancy key, bound to the backend
    and the transaction). ``false``: any session may claim any tenant (not injection-proof)."""
