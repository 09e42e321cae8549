"""The SQL of a declared check: its expression, and the objects that add and validate it."""

from __future__ import annotations

import hashlib

from psycopg import sql

from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, Lock, ObjectRef
from pgwarden.engine._objects import Kind  # exported by the engine once kinds are registered
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features.checks._options import CheckSpec

FEATURE = "checks"

# A CHECK constraint, added NOT VALID (ACCESS EXCLUSIVE, but only for an instant: no scan).
# Its fingerprint ignores whether it is validated: that is the validation's own object.
CHECK = Kind(
    "check",
    22,  # after columns (a check may read a column another feature adds)
    """select md5(regexp_replace(pg_get_constraintdef(c.oid), ' NOT VALID$', ''))
         from pg_constraint c
        where c.conrelid = to_regclass(format('%%I.%%I', %(rel_schema)s::text, %(rel_name)s::text))
          and c.conname = %(name)s and c.contype = 'c'""",
)
# VALIDATE CONSTRAINT: scans the table under SHARE UPDATE EXCLUSIVE (reads and writes go
# on), outside the apply transaction so the instant ACCESS EXCLUSIVE of the add is released.
VALIDATION = Kind(
    "check_validation",
    80,
    """select 'validated' from pg_constraint c
        where c.conrelid = to_regclass(format('%%I.%%I', %(rel_schema)s::text, %(rel_name)s::text))
          and c.conname = split_part(%(name)s, ' ', 1) and c.contype = 'c' and c.convalidated""",
    or_replace=True,  # VALIDATE of a validated constraint is a no-op
)


def expression(table: Table, name: str, spec: CheckSpec) -> sql.Composable:
    """The boolean expression of a check (the declared SQL, or one built from a JSON shape)."""
    if spec.check is not None:
        # The user's own SQL, as a DBA writes it in a migration; the probe prepares it alone
        # on the server first, so it is one expression, never a second statement.
        return sql.SQL(spec.check.strip())
    assert spec.jsonb is not None
    column = table.column(spec.jsonb)
    if column is None:
        raise FeatureNotApplicable(
            str(table.name), FEATURE, f"check {name}: no column {spec.jsonb}"
        )
    if column.type != "jsonb":
        raise FeatureNotApplicable(
            str(table.name),
            FEATURE,
            f"check {name}: column {spec.jsonb} is {column.type}, not jsonb",
        )
    col = sql.Identifier(spec.jsonb)
    parts: list[sql.Composable] = [sql.SQL("jsonb_typeof({}) = 'object'").format(col)]
    if spec.required:
        keys = sql.SQL(", ").join(sql.Literal(k) for k in spec.required)
        parts.append(sql.SQL("{} ?& ARRAY[{}]::text[]").format(col, keys))
    for key, kind in sorted(spec.types.items()):
        parts.append(
            sql.SQL("(NOT {0} ? {1} OR jsonb_typeof({0} -> {1}) = {2})").format(
                col, sql.Literal(key), sql.Literal(kind)
            )
        )
    return sql.SQL(" AND ").join(parts)


def objects(table: Table, name: str, spec: CheckSpec, expr: sql.Composable) -> list[DesiredObject]:
    """The check (added NOT VALID) and, unless ``not_valid``, its validation."""
    add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({}) NOT VALID").format(
        table.name.ident, sql.Identifier(name), expr
    )
    drop = sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
        table.name.ident, sql.Identifier(name)
    )
    found = [
        DesiredObject(
            ref=ObjectRef(CHECK.name, table.name.schema, name, table.name),
            feature=FEATURE,
            table=table.name,
            create=add,
            drop=drop,
            description=f"check {name} on {table.name}, NOT VALID (new rows checked)",
            lock=Lock("ACCESS EXCLUSIVE", table.name),
        )
    ]
    if spec.not_valid:
        return found
    # Named after the check and its expression's hash: a changed expression is validated
    # again. Removing only the validation puts the constraint back NOT VALID.
    digest = hashlib.sha256(add.as_string(None).encode()).hexdigest()[:8]
    found.append(
        DesiredObject(
            ref=ObjectRef(VALIDATION.name, table.name.schema, f"{name} {digest}", table.name),
            feature=FEATURE,
            table=table.name,
            create=sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
                table.name.ident, sql.Identifier(name)
            ),
            drop=sql.SQL(
                "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {},"
                " ADD CONSTRAINT {} CHECK ({}) NOT VALID"
            ).format(table.name.ident, sql.Identifier(name), sql.Identifier(name), expr),
            description=f"validate check {name} on {table.name} (reads and writes go on)",
            lock=Lock("SHARE UPDATE EXCLUSIVE", table.name),
            transactional=False,
        )
    )
    return found
