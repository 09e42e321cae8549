"""What every workspace service shares: typed errors, the caller (an organization and one of
its users), the retried transaction run as that organization's tenant, the clock, rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import dict_row

from pgwarden.blueprints import _errors
from pgwarden.blueprints._errors import BlueprintError, Rules
from pgwarden.blueprints._errors import Conflict as Conflict
from pgwarden.blueprints._errors import Forbidden as Forbidden
from pgwarden.blueprints._errors import Invalid as Invalid
from pgwarden.blueprints._errors import NotFound as NotFound
from pgwarden.blueprints._errors import Unauthorized as Unauthorized
from pgwarden.db import Session
from pgwarden.warden import Warden

Row = dict[str, Any]
Params = Sequence[Any] | Mapping[str, Any]
Query = LiteralString | sql.SQL | sql.Composed
Clock = Callable[[], dt.datetime]
T = TypeVar("T")


WorkspaceError = BlueprintError
"""A rule of the workspace was broken; ``status`` is the HTTP status the API answers with
and ``code`` a stable name."""


# The database's rules, by constraint name, as the message a client reads. A composite key
# naming another organization's row fails exactly as a missing row does (row-level security
# hides it, the key's organization differs): "not found", never "not yours".
RULES: Rules = {
    "organizations_slug_key": (Conflict, "an organization with this slug exists"),
    "organizations_slug_format": (Invalid, "slug: lower-case letters, digits and -"),
    "organizations_name_present": (Invalid, "an organization needs a name"),
    "organizations_tier_known": (Invalid, "tier must be free, standard or enterprise"),
    "users_email_key": (Conflict, "a user with this email exists in the organization"),
    "users_email_format": (Invalid, "email is not a valid address"),
    "users_role_known": (Invalid, "role must be owner, admin or member"),
    "projects_name_key": (Conflict, "a project of this name exists"),
    "projects_name_present": (Invalid, "a project needs a name"),
    "projects_status_known": (Invalid, "status must be active, paused or archived"),
    "tasks_title_present": (Invalid, "a task needs a title"),
    "tasks_priority_range": (Invalid, "priority is between 1 (highest) and 5"),
    "tasks_minutes_not_negative": (Invalid, "minutes cannot be negative"),
    "tasks_project_fkey": (NotFound, "no such project"),
    "tasks_assignee_fkey": (NotFound, "no such user to assign"),
    "tasks_created_by_fkey": (NotFound, "no such user"),
    "metadata_shape": (Invalid, "metadata: labels is an array, estimate a number"),
    "task_dependencies_pkey": (Conflict, "this dependency exists already"),
    "task_dependencies_task_fkey": (NotFound, "no such task"),
    "task_dependencies_depends_on_fkey": (NotFound, "no such task to depend on"),
    "prompts_content_present": (Invalid, "a prompt needs content"),
    "prompts_name_version_key": (Conflict, "this prompt version exists"),
    "learning_models_name_key": (Conflict, "a model of this name exists"),
    "accuracy_range": (Invalid, "accuracy is between 0 and 1"),
    "sizes_positive": (Invalid, "population_size and generations must be positive"),
    "repositories_name_key": (Conflict, "a repository of this name exists"),
    "analysis_runs_repository_id_organization_id_fkey": (NotFound, "no such repository"),
}


def translate(exc: psycopg.Error) -> WorkspaceError:
    """The database refused a write: say which rule, in words (else re-raise). Row-level
    security refusing a row, or a key to a row the organization cannot see, reads "not
    found", as for a row that does not exist."""
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return NotFound("not found")
    return _errors.translate(exc, RULES, foreign_key=(NotFound, "a referenced row is missing"))


REFUSALS = (pg_errors.IntegrityError, pg_errors.DataError, pg_errors.InsufficientPrivilege)
"""What the database raises when a rule refuses a write (see :func:`translate`)."""


@dataclass(frozen=True)
class Caller:
    """Who calls: a user of an organization (from a bearer token)."""

    organization_id: int
    user_id: int

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}"


class Core:
    """The database (as the app role) and the clock every service works with."""

    def __init__(self, warden: Warden, clock: Clock | None = None):
        self.warden = warden
        self.clock: Clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def now(self) -> dt.datetime:
        return self.clock()

    def run(self, caller: Caller, work: Callable[[Session], T], reason: str | None = None) -> T:
        """``work`` in one transaction as ``caller``'s organization (the tenant, signed: the
        policies show it that organization's rows only) and attributed to the user in the
        audit trail; re-run on serialization failure or deadlock (``Warden.run``). A rule the
        database enforces becomes a :class:`WorkspaceError`, and nothing is written."""
        try:
            return self.warden.run(
                work, actor=caller.actor, tenant=str(caller.organization_id), reason=reason
            )
        except REFUSALS as exc:
            raise translate(exc) from exc


def plain(row: Row) -> Row:
    """``row`` as the API sends it: numerics travel as JSON numbers."""
    for key, value in row.items():
        if isinstance(value, Decimal):
            row[key] = float(value)
    return row


def rows(db: Session | psycopg.Connection[Any], query: Query, params: Params = ()) -> list[Row]:
    conn = db.connection if isinstance(db, Session) else db
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return [plain(r) for r in cur.fetchall()]


def one(db: Session, query: Query, params: Params = (), missing: str = "not found") -> Row:
    """The one row ``query`` returns; :class:`NotFound` (``missing``) when none."""
    found = rows(db, query, params)
    if not found:
        raise NotFound(missing)
    return found[0]


def updates(fields: Mapping[str, Any], allowed: Sequence[str]) -> sql.Composed:
    """``col = %(col)s, ...`` for the fields given among ``allowed`` (names are checked, not
    trusted: an unknown field is :class:`Invalid`)."""
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(unknown)}")
    if not fields:
        raise Invalid("nothing to change")
    return sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in sorted(fields)
    )
