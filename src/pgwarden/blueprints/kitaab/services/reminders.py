"""Daily reminders at a local time in the user's time zone: one active per user, sent once
per local day, right across time zones and DST changes.

The next due instant (``next_due_at``, UTC) is computed by the database
(``kitaab.next_reminder_at``) from the local time, the zone and the last local day sent, and
indexed; the scheduler, run every minute, takes the due rows (``SKIP LOCKED``: several
schedulers never send twice), sends those whose due local day is today and not sent yet, and
moves each to its next local day. A local time skipped by a DST change fires when the clock
jumps past it; a repeated one fires once.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from psycopg import sql

from pgwarden.blueprints.kitaab.services._core import Core, Invalid, Row, one

Sender = Callable[[Row], None]
NOTIFICATION = sql.SQL(
    "notification_id, user_id, notification_time, is_active, next_due_at, last_sent_on"
)


class Reminders:
    def __init__(self, core: Core, sender: Sender | None = None):
        self.core = core
        self.sent: list[Row] = []
        self.sender: Sender = sender or self.sent.append

    def set(self, user_id: int, at: dt.time) -> Row:
        """Remind at local time ``at`` every day (replaces the active reminder)."""
        if at.tzinfo is not None:
            raise Invalid("the reminder time is a local time, without offset")
        with self.core.tx(user_id, "set reminder") as db:
            return one(
                db,
                sql.SQL(
                    "insert into kitaab.notifications (user_id, notification_time, "
                    "next_due_at) select %(user)s, %(at)s, kitaab.next_reminder_at(%(at)s, "
                    "u.timezone, %(now)s, null) from kitaab.users u where u.user_id = %(user)s "
                    "on conflict (user_id) where is_active do update set notification_time = "
                    "excluded.notification_time, next_due_at = "
                    "kitaab.next_reminder_at(excluded.notification_time, (select timezone from "
                    "kitaab.users where user_id = %(user)s), %(now)s, "
                    "kitaab.notifications.last_sent_on) returning {}"
                ).format(NOTIFICATION),
                {"user": user_id, "at": at, "now": self.core.now()},
            )

    def disable(self, user_id: int) -> None:
        with self.core.tx(user_id, "disable reminder") as db:
            db.execute(
                "update kitaab.notifications set is_active = false where user_id = %s "
                "and is_active",
                (user_id,),
            )

    def run_due(self, now: dt.datetime | None = None, batch: int = 1000) -> list[Row]:
        """One scheduler tick: send every reminder due at ``now``; returns those sent."""
        at = now or self.core.now()
        sent: list[Row] = []
        while True:
            tx = self.core.tx(None, "daily reminder", actor="kitaab:scheduler")
            with tx as db, db.connection.cursor() as cur:
                cur.execute(
                    "with due as (select n.notification_id, n.notification_time, "
                    "n.last_sent_on, u.user_id, u.timezone, "
                    "(%(now)s at time zone u.timezone)::date as today, "
                    "(n.next_due_at at time zone u.timezone)::date as due_day "
                    "from kitaab.notifications n join kitaab.users u using (user_id) "
                    "where n.is_active and n.next_due_at <= %(now)s "
                    "and u.deleted_at is null and u.is_active order by n.next_due_at "
                    "limit %(batch)s for update of n skip locked), "
                    "decided as (select *, due_day = today and last_sent_on is distinct "
                    "from today as send from due) "
                    "update kitaab.notifications n set "
                    "last_sent_on = case when d.send then d.today else n.last_sent_on end, "
                    "next_due_at = kitaab.next_reminder_at(d.notification_time, d.timezone, "
                    "%(now)s, case when d.send then d.today else n.last_sent_on end) "
                    "from decided d where n.notification_id = d.notification_id "
                    "returning d.send, n.notification_id, d.user_id, d.timezone, d.today, "
                    "n.notification_time",
                    {"now": at, "batch": batch},
                )
                done = cur.fetchall()
            for send, notification_id, user_id, zone, today, local in done:
                if send:
                    row = {"notification_id": notification_id, "user_id": user_id,
                           "timezone": zone, "local_date": today, "local_time": local}  # fmt: skip
                    self.sender(row)
                    sent.append(row)
            if len(done) < batch:
                return sent

    def run_forever(self, stop: threading.Event, interval: float = 60.0) -> None:
        """The scheduler: a tick every ``interval`` seconds until ``stop`` is set."""
        while not stop.wait(interval):
            self.run_due()
