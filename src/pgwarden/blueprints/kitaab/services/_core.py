"""What every Kitaab service shares: typed errors, the transaction with the acting user as
pgwarden's actor, the injectable clock, and rows as dicts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, LiteralString

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
from pgwarden.db import Session, set_tenant
from pgwarden.warden import Warden

Row = dict[str, Any]
Params = Sequence[Any] | Mapping[str, Any]
Query = LiteralString | sql.SQL | sql.Composed
Clock = Callable[[], dt.datetime]


KitaabError = BlueprintError
"""A rule of the app was broken; ``status`` is the HTTP status the API answers with."""


# The database's rules, by constraint name, as the message a user reads.
RULES: Rules = {
    "users_email_key": (Conflict, "an account with this email already exists"),
    "users_email_format": (Invalid, "email is not a valid address"),
    "users_full_name_present": (Invalid, "full_name must not be empty"),
    "users_timezone_valid": (Invalid, "timezone is not a known time zone (e.g. Europe/Berlin)"),
    "users_week_start_range": (Invalid, "week_start must be between 0 (Sunday) and 6"),
    "users_theme_known": (Invalid, "theme must be light, dark or system"),
    "deeds_name_present": (Invalid, "a deed needs a name"),
    "deed_items_name_present": (Invalid, "a deed item needs a name"),
    "deed_items_level_valid": (Invalid, "a top-level item has level 1, a child a level > 1"),
    "deed_items_depth_limit": (Invalid, "deed items nest at most 5 levels deep"),
    "deed_items_not_own_parent": (Invalid, "a deed item cannot be its own parent"),
    "deed_items_same_deed": (Invalid, "a deed item's parent must belong to the same deed"),
    "deed_items_no_cycle": (Invalid, "this move would put a deed item under its own descendant"),
    "scales_version_positive": (Invalid, "a scale version starts at 1"),
    "scales_deed_version_key": (Conflict, "this deed already has a scale of that version"),
    "scales_one_active_per_deed": (Conflict, "a deed has one active scale at a time"),
    "scale_values_name_present": (Invalid, "a scale value needs a name"),
    "scale_values_name_key": (Conflict, "the scale already has a value of that name"),
    "scale_values_order_key": (Conflict, "the scale already has a value at that position"),
    "unique_user_deed_item_date": (Conflict, "there is already an entry for this item that day"),
    "entry_has_value": (Invalid, "an entry needs a scale_value_id or a count_value"),
    "entry_count_not_negative": (Invalid, "count_value cannot be negative"),
    "entries_deed_item_id_fkey": (Conflict, "the deed item has entries: deactivate it instead"),
    "entries_scale_value_id_fkey": (Conflict, "entries use this scale value"),
    "relations_no_self": (Invalid, "you cannot connect to yourself"),
    "relations_pair_key": (Conflict, "a connection request to this user already exists"),
    "permissions_relation_item_key": (Conflict, "a permission for this item already exists"),
    "permissions_relation_accepted": (Conflict, "the connection has not been accepted"),
    "permissions_owner_item": (Forbidden, "you can only grant access to your own deed items"),
    "merits_dates": (Invalid, "end_date must not be before start_date"),
    "targets_dates": (Invalid, "end_date must not be before start_date"),
    "merit_items_target_positive": (Invalid, "target_value must be positive"),
    "target_items_target_positive": (Invalid, "target_value must be positive"),
    "merit_items_count_has_no_scale": (Invalid, "a count item has no scale_value_id"),
    "target_items_count_has_no_scale": (Invalid, "a count item has no scale_value_id"),
    "reflections_content_present": (Invalid, "a reflection needs some text"),
    "reflections_one_per_type_per_day": (Conflict, "one reflection per type per day"),
    "messages_content_present": (Invalid, "a message needs some text"),
    "notifications_one_active_per_user": (Conflict, "you already have an active reminder"),
}


def translate(exc: psycopg.Error) -> KitaabError:
    """The database refused a write: say which rule, in words."""
    return _errors.translate(
        exc, RULES, foreign_key=(Conflict, "a referenced row is missing or deleted")
    )


REFUSALS = (pg_errors.IntegrityError, pg_errors.DataError, pg_errors.RaiseException)
"""What the database raises when a rule refuses a write (see :func:`translate`)."""


def actor_of(user_id: int | None) -> str:
    return f"user:{user_id}" if user_id is not None else "kitaab:system"


class Core:
    """The database and the clock every service works with."""

    def __init__(self, warden: Warden, clock: Clock | None = None):
        self.warden = warden
        self.clock: Clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def now(self) -> dt.datetime:
        return self.clock()

    @contextmanager
    def tx(
        self, user_id: int | None, reason: str | None = None, *, actor: str | None = None
    ) -> Iterator[Session]:
        """One transaction, attributed to ``user_id`` in the audit trail (pgwarden.actor =
        ``user:<id>``) and acting as that user's tenant (pgwarden.tenant, signed): the
        database's policies show it the user's entries and those shared with them, whatever
        the service checks. A rule the database enforces becomes a :class:`KitaabError`, and
        nothing of the transaction is written."""
        tenant = str(user_id) if user_id is not None else None
        try:
            with self.warden.session(
                actor=actor or actor_of(user_id), tenant=tenant, reason=reason
            ) as db:
                yield db
        except REFUSALS as exc:
            raise translate(exc) from exc

    @contextmanager
    def acting_for(self, db: Session, user_id: int) -> Iterator[None]:
        """Within ``db``'s transaction, act as ``user_id``'s tenant (signed), then as the
        session's own again. For the services' own fixed statements only (a goal's progress
        counts all its owner's entries, which a connected writer's tenant cannot read); the
        actor in the audit trail stays the session's."""
        tenant = str(user_id)
        if db.context.tenant == tenant:
            yield
            return
        key = self.warden.tenant_key
        set_tenant(db.connection, tenant, key, db.binding)
        try:
            yield
        finally:
            if db.connection.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
                set_tenant(db.connection, db.context.tenant or "", key, db.binding)


def plain(row: Row) -> Row:
    """``row`` as the API sends it: numeric(10,2) values travel as JSON numbers."""
    for key, value in row.items():
        if isinstance(value, Decimal):
            row[key] = float(value)
    return row


def rows(db: Session, query: Query, params: Params = ()) -> list[Row]:
    with db.connection.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return [plain(row) for row in cur.fetchall()]


def one(
    db: Session,
    query: Query,
    params: Params = (),
    missing: str | None = None,
) -> Row:
    """The one row ``query`` returns; ``NotFound(missing)`` when it returns none."""
    found = rows(db, query, params)
    if not found:
        raise NotFound(missing or "not found")
    return found[0]


def maybe(db: Session, query: Query, params: Params = ()) -> Row | None:
    found = rows(db, query, params)
    return found[0] if found else None
