"""Users: registration with argon2 hashes and an email verification token, login tokens,
preferences (merged into users), account deletion (a soft delete, restorable)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import zoneinfo
from typing import Any, LiteralString

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from pgwarden.blueprints.kitaab.services._core import (
    Conflict,
    Core,
    Invalid,
    Row,
    Unauthorized,
    maybe,
    one,
)
from pgwarden.db import NONCE_SQL

TOKEN_LIFETIME = dt.timedelta(days=30)
MIN_PASSWORD = 8
PREFERENCES = ("full_name", "timezone", "language", "theme", "week_start")
PUBLIC = sql.SQL(
    "user_id, email, full_name, email_verified, is_active, timezone, language, theme, "
    "week_start, onboarded_at, created_at"
)


_VALID_TOKEN: LiteralString = (
    "from kitaab.auth_tokens t join kitaab.users u using (user_id) "
    "where t.token_hash = %s and t.expires_at > %s and u.deleted_at is null and u.is_active"
)
_AUTHENTICATE: LiteralString = "select t.user_id " + _VALID_TOKEN
# The same lookup as a transaction's first statement, with what a signed tenant's MAC binds:
# the request learns who it acts for and can sign that tenant with its next statement.
_AUTHENTICATE_NONCE: LiteralString = "select t.user_id, " + NONCE_SQL + " " + _VALID_TOKEN


def _authenticated(row: tuple[Any, ...] | None) -> int:
    if row is None:
        raise Unauthorized("missing, unknown or expired token")
    return int(row[0])


async def authenticate_in(
    conn: AsyncConnection[Any], token: str, now: dt.datetime
) -> tuple[int, tuple[int, int]]:
    """The user ``token`` belongs to, looked up as the first statement of ``conn``'s
    transaction (not in autocommit), and that transaction's nonce for
    :func:`pgwarden.db.context_statement`. :class:`Unauthorized` as :meth:`Users.authenticate`."""
    cur = await conn.execute(_AUTHENTICATE_NONCE, (token_digest(token), now))
    row = await cur.fetchone()
    user = _authenticated(row)
    assert row is not None
    return user, (int(row[1]), int(row[2]))


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def check_zone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid(f"timezone {name!r} is not a known time zone (e.g. Europe/Berlin)") from exc


class Users:
    def __init__(self, core: Core, hasher: PasswordHasher | None = None):
        self.core = core
        self.hasher = hasher or PasswordHasher()

    def register(
        self, email: str, password: str, full_name: str, timezone: str = "UTC"
    ) -> tuple[Row, str]:
        """A new, unverified account. Returns it and the email verification token."""
        if len(password) < MIN_PASSWORD:
            raise Invalid(f"password must have at least {MIN_PASSWORD} characters")
        check_zone(timezone)
        token = secrets.token_urlsafe(24)
        with self.core.tx(None, "register") as db:
            user = one(
                db,
                sql.SQL(
                    "insert into kitaab.users (email, password_hash, full_name, timezone, "
                    "verification_token) values (lower(%s), %s, %s, %s, %s) returning {}"
                ).format(PUBLIC),
                (email.strip(), self.hasher.hash(password), full_name, timezone, token),
            )
        return user, token

    def verify_email(self, token: str) -> Row:
        with self.core.tx(None, "verify email") as db:
            user = maybe(
                db,
                sql.SQL(
                    "update kitaab.users set email_verified = true, verification_token = null "
                    "where verification_token = %s and deleted_at is null returning {}"
                ).format(PUBLIC),
                (token,),
            )
        if user is None:
            raise Invalid("the verification token is unknown or was already used")
        return user

    def login(self, email: str, password: str) -> tuple[Row, str]:
        """Check the password; returns the user and a new bearer token."""
        with self.core.tx(None, "login") as db:
            found = maybe(
                db,
                "select user_id, password_hash, is_active from kitaab.users "
                "where email = lower(%s) and deleted_at is null",
                (email.strip(),),
            )
            if found is None or not self._verify(found["password_hash"], password):
                raise Unauthorized("wrong email or password")
            if not found["is_active"]:
                raise Unauthorized("this account is deactivated")
            token = secrets.token_urlsafe(32)
            db.execute(
                "insert into kitaab.auth_tokens (token_hash, user_id, expires_at) "
                "values (%s, %s, %s)",
                (token_digest(token), found["user_id"], self.core.now() + TOKEN_LIFETIME),
            )
            if self.hasher.check_needs_rehash(found["password_hash"]):
                db.execute(
                    "update kitaab.users set password_hash = %s where user_id = %s",
                    (self.hasher.hash(password), found["user_id"]),
                )
            user = one(db, sql.SQL('select {} from kitaab.users where user_id = %s').format(PUBLIC),
                       (found["user_id"],))  # fmt: skip
        return user, token

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def authenticate(self, token: str) -> int:
        """The user a bearer token belongs to (401 when unknown, expired or deleted)."""
        with self.core.warden.pool.connection() as conn:
            row = conn.execute(_AUTHENTICATE, (token_digest(token), self.core.now())).fetchone()
        return _authenticated(row)

    async def authenticate_async(self, pool: AsyncConnectionPool[Any], token: str) -> int:
        """:meth:`authenticate` on an asyncio pool (autocommit connections: one round trip),
        for the HTTP API's event loop."""
        async with pool.connection() as conn:
            cur = await conn.execute(_AUTHENTICATE, (token_digest(token), self.core.now()))
            row = await cur.fetchone()
        return _authenticated(row)

    def logout(self, token: str) -> None:
        with self.core.tx(None, "logout") as db:
            db.execute(
                "delete from kitaab.auth_tokens where token_hash = %s", (token_digest(token),)
            )

    def get(self, user_id: int) -> Row:
        with self.core.tx(user_id) as db:
            return one(
                db,
                sql.SQL(
                    "select {} from kitaab.users where user_id = %s and deleted_at is null"
                ).format(PUBLIC),
                (user_id,),
                missing=f"user {user_id} not found",
            )

    def update_preferences(self, user_id: int, changes: dict[str, Any]) -> Row:
        """Change profile and preferences (full_name, timezone, language, theme, week_start)."""
        unknown = sorted(set(changes) - set(PREFERENCES))
        if unknown:
            raise Invalid(f"unknown preference(s): {', '.join(unknown)}")
        if "timezone" in changes:
            check_zone(str(changes["timezone"]))
        with self.core.tx(user_id, "preferences") as db:
            user = one(
                db,
                sql.SQL(
                    "update kitaab.users set full_name = coalesce(%(full_name)s, full_name), "
                    "timezone = coalesce(%(timezone)s, timezone), language = "
                    "coalesce(%(language)s, language), theme = coalesce(%(theme)s, theme), "
                    "week_start = coalesce(%(week_start)s, week_start) where user_id = "
                    "%(user_id)s and deleted_at is null returning {}"
                ).format(PUBLIC),
                {**dict.fromkeys(PREFERENCES), **changes, "user_id": user_id},
            )
            if "timezone" in changes:  # the reminder follows the user's clock
                db.execute(
                    "update kitaab.notifications set next_due_at = kitaab.next_reminder_at("
                    "notification_time, %s, %s, last_sent_on) where user_id = %s and is_active",
                    (changes["timezone"], self.core.now(), user_id),
                )
        return user

    def delete_account(self, user_id: int) -> None:
        """Soft delete (pgwarden soft_delete): the account and its deeds disappear, restorable
        with ``pgwarden restore kitaab.users <id>``; login tokens are dropped."""
        with self.core.tx(user_id, "delete account") as db:
            db.execute("delete from kitaab.auth_tokens where user_id = %s", (user_id,))
            db.execute("delete from kitaab.users where user_id = %s", (user_id,))

    def require_verified(self, user_id: int) -> None:
        user = self.get(user_id)
        if not user["email_verified"]:
            raise Conflict("verify your email first")
