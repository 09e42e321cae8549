"""Reflections (one per type per day) and support messages."""

from __future__ import annotations

import datetime as dt

from psycopg import sql

from pgwarden.blueprints.kitaab.services._core import Core, Invalid, Row, one, rows

REFLECTION = sql.SQL(
    "reflection_id, user_id, reflection_date, type::text, content, created_at, updated_at"
)
MESSAGE = sql.SQL("message_id, user_id, sender::text, subject, content, is_read, created_at")
TYPES = ("daily", "hasanaat", "saiyyiaat")


class Reflections:
    def __init__(self, core: Core):
        self.core = core

    def write(
        self, user_id: int, reflection_date: dt.date, content: str, type: str = "daily"
    ) -> Row:
        """A new reflection; a second of the same type that day is refused (409)."""
        if type not in TYPES:
            raise Invalid(f"type must be one of {', '.join(TYPES)}")
        with self.core.tx(user_id, "reflection") as db:
            return one(
                db,
                sql.SQL(
                    "insert into kitaab.reflection_messages (user_id, reflection_date, type, "
                    "content) values (%s, %s, %s, %s) returning {}"
                ).format(REFLECTION),
                (user_id, reflection_date, type, content),
            )

    def edit(self, user_id: int, reflection_id: int, content: str) -> Row:
        with self.core.tx(user_id, "edit reflection") as db:
            return one(
                db,
                sql.SQL(
                    "update kitaab.reflection_messages set content = %s where reflection_id = "
                    "%s and user_id = %s returning {}"
                ).format(REFLECTION),
                (content, reflection_id, user_id),
                missing=f"reflection {reflection_id} not found",
            )

    def list(self, user_id: int, since: dt.date | None = None) -> list[Row]:
        with self.core.tx(user_id) as db:
            return rows(
                db,
                sql.SQL(
                    "select {} from kitaab.reflection_messages where user_id = %s and "
                    "reflection_date >= coalesce(%s::date, '-infinity') order by "
                    "reflection_date desc, type"
                ).format(REFLECTION),
                (user_id, since),
            )


class Messages:
    def __init__(self, core: Core):
        self.core = core

    def send(self, user_id: int, content: str, subject: str | None = None) -> Row:
        with self.core.tx(user_id, "support message") as db:
            return one(
                db,
                sql.SQL(
                    "insert into kitaab.messages (user_id, sender, subject, content) values "
                    "(%s, 'user', %s, %s) returning {}"
                ).format(MESSAGE),
                (user_id, subject, content),
            )

    def reply(self, user_id: int, content: str, subject: str | None = None) -> Row:
        """Support's answer to a user (not exposed to users through the API)."""
        with self.core.tx(None, "support reply", actor="kitaab:support") as db:
            return one(
                db,
                sql.SQL(
                    "insert into kitaab.messages (user_id, sender, subject, content) values "
                    "(%s, 'support', %s, %s) returning {}"
                ).format(MESSAGE),
                (user_id, subject, content),
            )

    def list(self, user_id: int) -> list[Row]:
        with self.core.tx(user_id, "read messages") as db:
            found = rows(
                db,
                sql.SQL(
                    "select {} from kitaab.messages where user_id = %s order by created_at "
                    "desc, message_id desc"
                ).format(MESSAGE),
                (user_id,),
            )
            db.execute(
                "update kitaab.messages set is_read = true where user_id = %s "
                "and sender = 'support' and not is_read",
                (user_id,),
            )
        return found
