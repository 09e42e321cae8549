"""Passwords of the roles pgwarden creates: read from the environment at apply time, sent to
the server only as a SCRAM-SHA-256 verifier computed here (the clear text never reaches the
server, its logs or ``pg_stat_activity``), and never in the plan, the ledger or an error."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.errors import RolesError


def variable(reference: str) -> str:
    """``env:NAME`` -> ``NAME``."""
    return reference.removeprefix("env:")


def password_statement(
    conn: psycopg.Connection[Any], role: str, reference: str, *, file: str, key: str
) -> sql.Composed:
    """``ALTER ROLE role PASSWORD '<verifier>'`` for the password in ``$NAME``."""
    name = variable(reference)
    value = os.environ.get(name)
    if not value:
        raise RolesError(
            f"environment variable {name} is not set (the password of role {role}); "
            "nothing was applied",
            file=file,
            key=key,
        )
    verifier = conn.pgconn.encrypt_password(value.encode(), role.encode(), b"scram-sha-256")
    return sql.SQL("ALTER ROLE {} PASSWORD {}").format(
        sql.Identifier(role), sql.Literal(verifier.decode())
    )


def password_setter(
    role: str, reference: str, *, file: str, key: str
) -> Callable[[psycopg.Connection[Any]], sql.Composed]:
    """The :attr:`DesiredObject.secret` of a created role."""

    def build(conn: psycopg.Connection[Any]) -> sql.Composed:
        return password_statement(conn, role, reference, file=file, key=key)

    return build
