"""``warden.tenancy``: the key the application signs its tenant with."""

from __future__ import annotations

from pgwarden.features._base import FeatureAPI


class TenancyAPI(FeatureAPI):
    """Read the database's tenancy key (a privileged connection: no application role can)."""

    attribute = "tenancy"

    def key(self) -> bytes:
        """The HMAC key the application signs ``pgwarden.tenant`` with. Give it to the
        application (``PGWARDEN_TENANT_KEY``, hex) when it connects as a role that cannot read
        ``warden.secrets``; never print it in logs."""
        from pgwarden.db import read_tenant_key

        with self.warden.connect(autocommit=True) as conn:
            key = read_tenant_key(conn)
        if key is None:
            from pgwarden.errors import PgwardenError

            raise PgwardenError(
                "this database has no tenancy key (or this role cannot read it)",
                hint="apply a declaration with tenancy as a role owning the warden schema",
            )
        return key
