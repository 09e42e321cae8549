"""``warden.tenant()``, the signed tenant every policy reads: verified in C where extension
``pgwarden_wal`` 1.3 is (or can be made) there, in SQL otherwise.

Policies always call ``(select warden.tenant())``, so switching between the two replaces one
function and no policy (their terms, and what ``plan`` compares, stay the same). In C it is
an inlinable SQL function over ``warden_wal.tenant()``: no ``SECURITY DEFINER`` call, no
``search_path`` to set, and the MAC verified once per transaction and claim (Kitaab's upsert
calls it seven times: 13-25 µs each in SQL). The SQL version stays what it was: a
``SECURITY DEFINER`` function reading the key from ``warden.secrets``.
"""

from __future__ import annotations

from psycopg import sql

from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.features._base import PlanContext, sql_template
from pgwarden.features._extension import TENANT_VERSION, in_c, wanted_extension

_PACKAGE = "pgwarden.features.tenancy"
FUNCTION = ObjectRef("function", "warden", "tenant", args="")


def verified_in_c(ctx: PlanContext) -> tuple[bool, bool, str]:
    """Whether ``warden.tenant()`` verifies in C, whether that needs the extension object,
    and what the plan says of it."""
    return in_c(ctx, TENANT_VERSION, "tenant verification", otherwise="SQL")


def _create(filename: str) -> sql.Composed:
    # As the stream made it before (functions/), so a database on the SQL path sees no
    # change: its body checked at its first call. Package data, no user input.
    text = sql_template(_PACKAGE, filename).strip()
    return sql.SQL(
        "SET LOCAL check_function_bodies = off;\n{}\nSET LOCAL check_function_bodies = on"
    ).format(sql.SQL(text))


def tenant_objects(ctx: PlanContext, feature: str) -> list[DesiredObject]:
    """``warden.tenant()`` in C or SQL, and the extension when the C one needs it."""
    c, wanted, how = verified_in_c(ctx)
    function = DesiredObject(
        ref=FUNCTION,
        feature=feature,
        table=None,
        create=_create("_tenant_c.sql" if c else "_tenant_sql.sql"),
        # Back to SQL rather than gone: what calls it keeps working (fails closed without a
        # key), and the extension no longer has a dependent, so it may go with audit.
        drop=_create("_tenant_sql.sql"),
        description=f"function warden.tenant(): {how}",
        adopt=True,
    )
    return [*([wanted_extension(ctx, feature)] if c and wanted else []), function]
