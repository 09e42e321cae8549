"""Connections (unidirectional: the requester follows the requestee once accepted) and
per-item read / write permissions the requestee grants on their own deed items.

Permissions are versioned by pgwarden (``kitaab.permissions__versions``): a grant, a change
of type and a revoke are each a version, with who did it."""

from __future__ import annotations

from psycopg import sql

from pgwarden.blueprints.kitaab.services._core import (
    Core,
    Forbidden,
    Invalid,
    NotFound,
    Row,
    maybe,
    one,
    rows,
)
from pgwarden.blueprints.kitaab.services.deeds import item_owner
from pgwarden.db import Session

RELATION = sql.SQL(
    "relation_id, requester_id, requestee_id, status::text, responded_at, created_at"
)
PERMISSION = sql.SQL("permission_id, relation_id, deed_item_id, permission_type::text, is_active")


def access(db: Session, viewer_id: int, deed_item_id: int) -> str | None:
    """``'write'``, ``'read'`` or None: what ``viewer_id`` may do with another user's item
    (one index lookup on relations, one on permissions)."""
    found = db.execute(
        "select p.permission_type::text from kitaab.permissions p "
        "join kitaab.relations r on r.relation_id = p.relation_id "
        "where r.requester_id = %s and r.status = 'accepted' "
        "and p.deed_item_id = %s and p.is_active",
        (viewer_id, deed_item_id),
    ).fetchone()
    return str(found[0]) if found else None


class Social:
    def __init__(self, core: Core):
        self.core = core

    def request(self, requester_id: int, requestee_email: str) -> Row:
        with self.core.tx(requester_id, "connection request") as db:
            target = maybe(
                db,
                "select user_id from kitaab.users where email = lower(%s) and deleted_at is null",
                (requestee_email.strip(),),
            )
            if target is None:
                raise NotFound(f"no user with email {requestee_email}")
            return one(
                db,
                sql.SQL(
                    "insert into kitaab.relations (requester_id, requestee_id) values (%s, %s) "
                    "returning {}"
                ).format(RELATION),
                (requester_id, target["user_id"]),
            )

    def respond(self, user_id: int, relation_id: int, accept: bool) -> Row:
        """The requestee accepts or rejects a pending request."""
        with self.core.tx(user_id, "accept connection" if accept else "reject connection") as db:
            rel = self._relation(db, relation_id)
            if rel["requestee_id"] != user_id:
                raise Forbidden("only the requested user can answer a connection request")
            if rel["status"] != "pending":
                raise Invalid(f"this request was already {rel['status']}")
            return one(
                db,
                sql.SQL(
                    "update kitaab.relations set status = %s, responded_at = now() where "
                    "relation_id = %s returning {}"
                ).format(RELATION),
                ("accepted" if accept else "rejected", relation_id),
            )

    def _relation(self, db: Session, relation_id: int) -> Row:
        return one(
            db,
            sql.SQL("select {} from kitaab.relations where relation_id = %s").format(RELATION),
            (relation_id,),
            missing=f"connection {relation_id} not found",
        )

    def relations(self, user_id: int) -> list[Row]:
        with self.core.tx(user_id) as db:
            return rows(
                db,
                sql.SQL(
                    "select {} from kitaab.relations where requester_id = %s or requestee_id = "
                    "%s order by relation_id"
                ).format(RELATION),
                (user_id, user_id),
            )

    def remove(self, user_id: int, relation_id: int) -> None:
        """Either side ends the connection; its permissions go with it."""
        with self.core.tx(user_id, "remove connection") as db:
            rel = self._relation(db, relation_id)
            if user_id not in (rel["requester_id"], rel["requestee_id"]):
                raise Forbidden("this connection is between other users")
            db.execute("delete from kitaab.relations where relation_id = %s", (relation_id,))

    def grant(
        self, owner_id: int, relation_id: int, deed_item_id: int, permission_type: str
    ) -> Row:
        """The owner (the relation's requestee) lets the requester read or write one of
        their deed items; granting again changes the type or reactivates it."""
        if permission_type not in ("read", "write"):
            raise Invalid("permission_type must be read or write")
        with self.core.tx(owner_id, f"grant {permission_type}") as db:
            rel = self._relation(db, relation_id)
            if rel["requestee_id"] != owner_id:
                raise Forbidden("only the user who was asked can grant access to their items")
            if item_owner(db, deed_item_id)["user_id"] != owner_id:
                raise Forbidden("you can only grant access to your own deed items")
            return one(
                db,
                sql.SQL(
                    "insert into kitaab.permissions (relation_id, deed_item_id, "
                    "permission_type) values (%s, %s, %s) on conflict (relation_id, "
                    "deed_item_id) do update set permission_type = excluded.permission_type, "
                    "is_active = true returning {}"
                ).format(PERMISSION),
                (relation_id, deed_item_id, permission_type),
            )

    def revoke(self, owner_id: int, permission_id: int) -> Row:
        """Takes effect at once: the next read or write is refused."""
        with self.core.tx(owner_id, "revoke permission") as db:
            found = one(
                db,
                "select p.permission_id, r.requestee_id from kitaab.permissions p "
                "join kitaab.relations r using (relation_id) where p.permission_id = %s",
                (permission_id,),
                missing=f"permission {permission_id} not found",
            )
            if found["requestee_id"] != owner_id:
                raise Forbidden("only the owner of the item can revoke this permission")
            return one(
                db,
                sql.SQL(
                    "update kitaab.permissions set is_active = false where permission_id = %s "
                    "returning {}"
                ).format(PERMISSION),
                (permission_id,),
            )

    def permissions(self, user_id: int) -> list[Row]:
        """Permissions granted by and to ``user_id``, with both users."""
        with self.core.tx(user_id) as db:
            return rows(
                db,
                "select p.permission_id, p.relation_id, p.deed_item_id, "
                "p.permission_type::text, p.is_active, r.requester_id as grantee_id, "
                "r.requestee_id as owner_id from kitaab.permissions p "
                "join kitaab.relations r using (relation_id) "
                "where r.requester_id = %s or r.requestee_id = %s order by p.permission_id",
                (user_id, user_id),
            )

    def check(self, viewer_id: int, deed_item_id: int) -> str | None:
        """``'owner'``, ``'write'``, ``'read'`` or None."""
        with self.core.warden.pool.connection() as conn:
            row = conn.execute(
                "select d.user_id = %s, (select p.permission_type::text "
                "from kitaab.permissions p join kitaab.relations r using (relation_id) "
                "where r.requester_id = %s and r.requestee_id = d.user_id "
                "and r.status = 'accepted' and p.deed_item_id = i.deed_item_id and p.is_active) "
                "from kitaab.deed_items i join kitaab.deeds d using (deed_id) "
                "where i.deed_item_id = %s and d.deleted_at is null",
                (viewer_id, viewer_id, deed_item_id),
            ).fetchone()
        if row is None:
            return None
        return "owner" if row[0] else (str(row[1]) if row[1] else None)
