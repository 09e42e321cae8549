"""Reading a table's rows against a check before pgwarden adds or validates it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.catalog import Table
from pgwarden.errors import ChecksViolated

EXAMPLES = 3
"""How many violating rows a report shows."""


@dataclass(frozen=True)
class Violation:
    """Rows of ``table`` for which ``check`` is false (NULL passes, as in PostgreSQL)."""

    table: str
    check: str
    expression: str
    rows: int
    examples: tuple[dict[str, Any], ...]
    """Up to :data:`EXAMPLES` violating rows, each as its columns' JSON values."""

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "check": self.check,
            "expression": self.expression,
            "rows": self.rows,
            "examples": list(self.examples),
        }

    @property
    def example(self) -> str:
        """The first example row, shortened."""
        return _short(self.examples[0]) if self.examples else "(none)"

    def __str__(self) -> str:
        shown = "; ".join(_short(e) for e in self.examples)
        return (
            f"{self.check} on {self.table}: {self.rows} row(s) violate ({self.expression}),"
            f" e.g. {shown}"
        )


def _short(row: dict[str, Any], limit: int = 120) -> str:
    text = json.dumps(row, default=str, sort_keys=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Probe:
    """What the ``checks`` feature reads while planning (one per plan, on the plan's
    connection): whether a check is validated, and which rows violate an expression."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def validated(self, table: Table, name: str) -> bool | None:
        """``True``/``False`` for a CHECK of that name on ``table``, ``None`` when absent."""
        row = self.conn.execute(
            "select convalidated from pg_constraint where conrelid = %s and conname = %s"
            " and contype = 'c'",
            (table.oid, name),
        ).fetchone()
        return None if row is None else bool(row[0])

    def violations(self, table: Table, name: str, expression: sql.Composable) -> Violation:
        """Count the rows for which ``expression`` is false, with a few examples.

        The statements are prepared on the server, which refuses more than one command: a
        declared expression cannot smuggle a second statement in."""
        text = expression.as_string(None)
        where = sql.SQL("FROM {} AS t WHERE ({}) IS FALSE").format(table.name.ident, expression)
        try:
            counted = self.conn.execute(
                sql.SQL("SELECT count(*) {}").format(where), prepare=True
            ).fetchone()
            examples = self.conn.execute(
                sql.SQL("SELECT to_jsonb(t) {} LIMIT {}").format(where, sql.Literal(EXAMPLES)),
                prepare=True,
            ).fetchall()
        except psycopg.Error as exc:
            if not self.conn.autocommit and self.conn.info.transaction_status:
                self.conn.rollback()
            raise ChecksViolated(
                f"{table.name}: check {name}: the expression cannot be evaluated: "
                f"{exc.diag.message_primary or exc}",
                violations=[],
            ) from None
        return Violation(
            table=str(table.name),
            check=name,
            expression=text,
            rows=int(counted[0]) if counted else 0,
            examples=tuple(_key_first(r[0], table) for r in examples),
        )


def _key_first(row: dict[str, Any], table: Table) -> dict[str, Any]:
    # The primary key first: what a user needs to find and fix the row.
    key = table.primary_key.columns if table.primary_key else ()
    return {**{k: row.get(k) for k in key}, **{k: v for k, v in row.items() if k not in key}}
