"""Organizations, their users, and the bearer tokens that say who calls."""

from __future__ import annotations

import hashlib
import secrets

from psycopg.types.json import Jsonb

from pgwarden.blueprints.workspace.services._core import (
    Caller,
    Core,
    Forbidden,
    Invalid,
    Row,
    Unauthorized,
    one,
    rows,
)
from pgwarden.db import Session

ROLES = ("owner", "admin", "member")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _issue(db: Session, user_id: int, organization_id: int) -> str:
    """A new bearer token for the user; only its digest is stored."""
    token = secrets.token_urlsafe(32)
    db.execute(
        "insert into workspace.api_tokens (token_hash, user_id, organization_id)"
        " values (%s, %s, %s)",
        [_digest(token), user_id, organization_id],
    )
    return token


def require_admin(db: Session, caller: Caller) -> None:
    """:class:`Forbidden` unless the caller is an owner or an admin of the organization
    (read in the caller's transaction: a role changed a moment ago counts)."""
    found = rows(db, "select role from workspace.users where user_id = %s", [caller.user_id])
    if not found or found[0]["role"] not in ("owner", "admin"):
        raise Forbidden("only an owner or an admin may do this")


class Organizations:
    """Sign-up, users, tokens."""

    def __init__(self, core: Core):
        self.core = core

    def create(
        self,
        name: str,
        slug: str,
        owner_email: str,
        owner_name: str,
        *,
        tier: str = "standard",
        settings: dict[str, object] | None = None,
    ) -> tuple[Row, Row, str]:
        """A new organization with its first user (its owner) and that user's token. The
        organization's id is drawn first, so that the whole sign-up runs as its tenant."""
        with self.core.warden.pool.connection() as conn:
            got = conn.execute(
                "select nextval(pg_get_serial_sequence('workspace.organizations',"
                " 'organization_id'))"
            ).fetchone()
        assert got is not None
        org_id = int(got[0])

        def work(db: Session) -> tuple[Row, Row, str]:
            org = one(
                db,
                "insert into workspace.organizations (organization_id, name, slug, tier,"
                " settings) values (%s, %s, %s, %s, %s) returning *",
                [org_id, name, slug, tier, Jsonb(settings or {})],
            )
            user = one(
                db,
                "insert into workspace.users (organization_id, email, full_name, role)"
                " values (%s, %s, %s, 'owner') returning *",
                [org_id, owner_email, owner_name],
            )
            return org, user, _issue(db, user["user_id"], org_id)

        return self.core.run(Caller(org_id, 0), work, reason="sign-up")

    def authenticate(self, token: str) -> Caller:
        """The caller a bearer token stands for (:class:`Unauthorized` when none)."""
        # From the pool (a connection per request would cost a login each time).
        with self.core.warden.pool.connection() as conn:
            found = conn.execute(
                "select organization_id, user_id from workspace.api_tokens where token_hash = %s",
                [_digest(token)],
            ).fetchone()
        if found is None:
            raise Unauthorized("unknown or revoked token")
        return Caller(int(found[0]), int(found[1]))

    def get(self, caller: Caller) -> Row:
        return self.core.run(caller, lambda db: one(db, "select * from workspace.organizations"))

    def add_user(
        self, caller: Caller, email: str, full_name: str, role: str = "member"
    ) -> tuple[Row, str]:
        """A new user of the caller's organization and their token (owners and admins)."""
        if role not in ROLES:
            raise Invalid("role must be owner, admin or member")

        def work(db: Session) -> tuple[Row, str]:
            require_admin(db, caller)
            user = one(
                db,
                "insert into workspace.users (organization_id, email, full_name, role)"
                " values (%s, %s, %s, %s) returning *",
                [caller.organization_id, email, full_name, role],
            )
            return user, _issue(db, user["user_id"], caller.organization_id)

        return self.core.run(caller, work, reason="add user")

    def users(self, caller: Caller) -> list[Row]:
        return self.core.run(
            caller,
            lambda db: rows(
                db,
                "select user_id, email, full_name, role, created_at from workspace.users"
                " order by user_id",
            ),
        )
