"""The errors blueprints' services raise when a rule of the application is broken, and the
translation of the database's refusals into them, by constraint name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import errors as pg_errors


class BlueprintError(Exception):
    """A rule was broken; ``status`` is the HTTP status an API answers with, ``code`` a
    stable name, ``rows`` the offending rows when the refusal is about data."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, rows: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.rows = rows or []


class Invalid(BlueprintError):
    status = 422
    code = "invalid"


class NotFound(BlueprintError):
    status = 404
    code = "not-found"


class Forbidden(BlueprintError):
    status = 403
    code = "forbidden"


class Conflict(BlueprintError):
    status = 409
    code = "conflict"


class Unauthorized(BlueprintError):
    status = 401
    code = "unauthorized"


Rules = Mapping[str, tuple[type[BlueprintError], str]]
"""Constraint name -> the error and the message a user reads."""


def translate(
    exc: psycopg.Error,
    rules: Rules,
    *,
    foreign_key: tuple[type[BlueprintError], str] = (Conflict, "a referenced row is missing"),
) -> BlueprintError:
    """The database refused a write: say which rule, in words, by the constraint's name
    (soft delete keeps unique keys among live rows as ``<key>__live``: the same rule); a
    foreign key, unique or other integrity / data error without a rule of its own in general
    words (``foreign_key``: the kind and fallback message of a foreign-key refusal). Anything
    else is raised again."""
    diag = exc.diag
    rule = rules.get((diag.constraint_name or "").removesuffix("__live"))
    if rule is not None:
        kind, message = rule
        return kind(message)
    if isinstance(exc, pg_errors.ForeignKeyViolation):
        kind, message = foreign_key
        return kind(diag.message_primary or message)
    if isinstance(exc, pg_errors.UniqueViolation):
        return Conflict(diag.message_primary or "this already exists")
    if isinstance(exc, pg_errors.IntegrityError | pg_errors.DataError):
        return Invalid(diag.message_primary or str(exc))
    raise exc
