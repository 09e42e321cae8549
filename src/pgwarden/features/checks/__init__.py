"""``checks``: named CHECK constraints, added online and validated only when the rows agree.

Declared per table::

    [tables."public.tasks".checks]
    title_length = "char_length(title) between 1 and 200"
    priority = { check = "priority between 1 and 5", not_valid = true }
    metadata = { jsonb = "metadata", required = ["source"], types = { tags = "array" } }

Each check is added ``NOT VALID`` inside the apply transaction (an instant ACCESS EXCLUSIVE
lock, no scan), then validated on its own after the commit (``VALIDATE CONSTRAINT`` scans under
SHARE UPDATE EXCLUSIVE: reads and writes go on). Before either, the plan counts the rows that
violate it: if any do, the plan is refused with the counts and example rows
(:class:`~pgwarden.errors.ChecksViolated`), unless the check says ``not_valid = true``. See
``docs/checks.md``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

import psycopg

from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.engine._objects import Kind
from pgwarden.errors import ChecksViolated
from pgwarden.features._base import Feature, FeatureAPI, PlanContext
from pgwarden.features.checks import _sql
from pgwarden.features.checks._options import ChecksOptions, CheckSpec
from pgwarden.features.checks._probe import Probe, Violation
from pgwarden.spec import FeatureOptions, Spec

if TYPE_CHECKING:
    import typer

__all__ = ["CheckSpec", "Checks", "ChecksAPI", "ChecksOptions", "Violation"]


class ChecksAPI(FeatureAPI):
    """``warden.checks``: the rows that violate the declared checks."""

    def violations(self) -> list[Violation]:
        """Every declared check of every table (validated or not) with its violating rows
        count and examples; reads only."""
        from pgwarden.catalog import read_catalog

        spec = self.warden.spec
        found: list[Violation] = []
        with self.warden.connect(autocommit=True) as conn:
            catalog = read_catalog(conn)
            probe = Probe(conn)
            for table_spec in spec.tables.values():
                options = table_spec.features.get(Checks.name)
                table = catalog.get(table_spec.name)
                if not isinstance(options, ChecksOptions) or table is None:
                    continue
                for name, check in options.checks.items():
                    expr = _sql.expression(table, name, check)
                    found.append(probe.violations(table, name, expr))
        return found


class Checks(Feature):
    name = "checks"
    summary = "named CHECK constraints added NOT VALID, validated once no row violates them"
    options: ClassVar[type[FeatureOptions]] = ChecksOptions
    api = ChecksAPI

    def kinds(self) -> list[Kind]:
        return [_sql.CHECK, _sql.VALIDATION]

    def prepare(self, conn: psycopg.Connection[Any]) -> Any:
        return Probe(conn)

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        assert isinstance(options, ChecksOptions)
        probe = ctx.state.get(self.name)
        found: list[DesiredObject] = []
        violated: list[Violation] = []
        for name, check in options.checks.items():
            expr = _sql.expression(table, name, check)
            objs = _sql.objects(table, name, check, expr)
            if isinstance(probe, Probe):
                validation = objs[-1].ref if not check.not_valid else None
                if _needs_count(probe, ctx, table, name, validation):
                    # Also proves the expression is one valid expression over this table.
                    seen = probe.violations(table, name, expr)
                    if seen.rows and not check.not_valid:
                        violated.append(seen)
                    elif seen.rows:
                        # Added NOT VALID as asked: the plan still says what it leaves.
                        note = f"; {seen.rows} existing row(s) violate it, e.g. {seen.example}"
                        objs[0] = replace(objs[0], description=objs[0].description + note)
            found.extend(objs)
        if violated:
            raise ChecksViolated(
                "existing rows violate checks to be validated; nothing was changed:\n  "
                + "\n  ".join(str(v) for v in violated),
                violations=[v.to_json() for v in violated],
                hint="fix those rows (or declare the check with not_valid = true to check "
                "new rows only), then plan again; `pgwarden checks violations` lists them",
            )
        return found

    def commands(self, app: typer.Typer) -> None:
        from pgwarden.features.checks._cli import register

        register(app)

    def health(self, conn: psycopg.Connection[Any], spec: Spec) -> list[str]:
        ledger = conn.execute("select to_regclass('warden.owned_objects')").fetchone()
        if not ledger or ledger[0] is None:
            return []
        rows = conn.execute(
            """select count(*) filter (where not c.convalidated), count(*)
                 from warden.owned_objects o
                 join pg_constraint c on c.conname = o.identity ->> 'name'
                  and c.conrelid = to_regclass(format('%I.%I',
                      o.identity -> 'relation' ->> 'schema', o.identity -> 'relation' ->> 'name'))
                where o.kind = 'check'"""
        ).fetchone()
        if not rows or not rows[1]:
            return []
        return [f"checks: {rows[1]} declared, {rows[0]} not validated (new rows checked only)"]


def _needs_count(
    probe: Probe, ctx: PlanContext, table: Table, name: str, validation: ObjectRef | None
) -> bool:
    if validation is None:
        # NOT VALID only: existing rows are the user's business; count only a new check's
        # expression once, to prove it evaluates.
        return probe.validated(table, name) is None
    return not (ctx.owns(validation) and probe.validated(table, name))
