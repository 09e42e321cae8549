"""Realistic Kitaab data, fast: users with deeds, a two-level hierarchy, a scale, accepted
connections with read / write permissions, reminders, merits, and daily entries over the
last ``days`` days, loaded with COPY in chunks (audit and the other policies stay on: what is
loaded is recorded like any other write).

Ids of the parent rows are allocated from the tables' sequences up front, so several
generations can run one after another on the same database (not concurrently).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from argon2 import PasswordHasher

DEMO_EMAIL = "demo@kitaab.example"
DEMO_PASSWORD = "kitaab-demo"
CHUNK = 1000
"""Users per COPY round (one transaction each)."""

FIRST = [
    "Aisha",
    "Bilal",
    "Chen",
    "Dawud",
    "Elif",
    "Farid",
    "Hana",
    "Idris",
    "Jamila",
    "Karim",
    "Laila",
    "Musa",
    "Nadia",
    "Omar",
    "Priya",
    "Rania",
    "Samir",
    "Tariq",
    "Yusuf",
    "Zainab",
]
LAST = [
    "Ahmed",
    "Begum",
    "Costa",
    "Demir",
    "Evans",
    "Farouk",
    "Garcia",
    "Haddad",
    "Ito",
    "Khan",
    "Lopez",
    "Malik",
    "Novak",
    "Okafor",
    "Petrov",
    "Rahman",
    "Silva",
    "Tan",
]
ZONES = ["UTC", "Europe/London", "Europe/Berlin", "Europe/Istanbul", "Asia/Karachi",
         "Asia/Kolkata", "Asia/Jakarta", "Asia/Tokyo", "America/New_York", "America/Chicago",
         "America/Los_Angeles", "Africa/Cairo", "Africa/Lagos", "Australia/Sydney"]  # fmt: skip
# Per user: (deed index, name, parent item index or None); deed 0 is hasanaat, 1 saiyyiaat.
DEEDS = [("Prayer", "hasanaat"), ("Habits to reduce", "saiyyiaat")]
ITEMS = [(0, "Daily prayers", None), (0, "Fajr on time", 0), (0, "Qur'an pages", None),
         (1, "Lost my temper", None), (1, "Screen time (hours)", None)]  # fmt: skip
SCALE = ["late", "on time", "early"]
# Items that get entries: (item index, kind, daily probability).
RECORDED = [(1, "scale", 0.8), (2, "count", 0.6), (3, "count", 0.3), (4, "count", 0.7)]

Progress = Callable[[int, int], None]
"""Called with (entries written so far, users done so far)."""


@dataclass
class Generated:
    users: int
    entries: int
    first_user_id: int
    demo_email: str | None


def _reserve(conn: psycopg.Connection[Any], sequence: str, count: int) -> int:
    """The first of ``count`` consecutive ids taken from ``sequence``."""
    row = conn.execute(
        "select nextval(%s::regclass) from generate_series(1, %s) order by 1 limit 1",
        (sequence, count),
    ).fetchone()
    assert row is not None
    first = int(row[0])
    conn.execute("select setval(%s::regclass, %s)", (sequence, first + count - 1))
    return first


def generate(
    url: str,
    users: int,
    days: int,
    *,
    seed: int = 7,
    today: dt.date | None = None,
    demo_login: bool = True,
    progress: Progress | None = None,
) -> Generated:
    """Load ``users`` users and ``days`` days of their entries. With ``demo_login``, the first
    user is ``demo@kitaab.example`` (password ``kitaab-demo``) unless it exists already."""
    rng = random.Random(seed)
    end = today or dt.date.today()
    start = end - dt.timedelta(days=days - 1)
    password = PasswordHasher().hash(DEMO_PASSWORD)  # one hash for every generated account
    written = 0
    with psycopg.connect(url) as conn:
        conn.execute("select set_config('pgwarden.actor', 'kitaab:generator', false)")
        conn.execute("select set_config('pgwarden.reason', 'generated demo data', false)")
        if demo_login:
            taken = conn.execute(
                "select 1 from kitaab.users where email = %s", (DEMO_EMAIL,)
            ).fetchone()
            demo_login = taken is None
        tag = rng.getrandbits(32)
        uid0 = _reserve(conn, "kitaab.users_user_id_seq", users)
        did0 = _reserve(conn, "kitaab.deeds_deed_id_seq", users * len(DEEDS))
        iid0 = _reserve(conn, "kitaab.deed_items_deed_item_id_seq", users * len(ITEMS))
        sid0 = _reserve(conn, "kitaab.scales_scale_id_seq", users)
        vid0 = _reserve(conn, "kitaab.scale_values_scale_value_id_seq", users * len(SCALE))
        rid0 = _reserve(conn, "kitaab.relations_relation_id_seq", users)
        mid0 = _reserve(conn, "kitaab.merits_merit_id_seq", users)
        conn.commit()
        for low in range(0, users, CHUNK):
            high = min(users, low + CHUNK)
            ids = range(low, high)
            with conn.transaction():
                _people(conn, rng, ids, uid0, password, tag, demo_login)
                _deeds(conn, ids, uid0, did0, iid0, sid0, vid0)
                _goals(conn, ids, uid0, did0, iid0, mid0, start, end)
                written += _entries(conn, rng, ids, uid0, iid0, sid0, vid0, start, days)
            if progress is not None:
                progress(written, high)
        for low in range(0, users, CHUNK):  # every user exists now: connect them
            with conn.transaction():
                _social(conn, range(low, min(users, low + CHUNK)), users, uid0, iid0, rid0)
        conn.execute(
            "update kitaab.notifications set next_due_at = kitaab.next_reminder_at("
            "notification_time, u.timezone, now(), null) from kitaab.users u "
            "where u.user_id = kitaab.notifications.user_id and next_due_at is null"
        )
        conn.commit()
    return Generated(users, written, uid0, DEMO_EMAIL if demo_login else None)


def _people(
    conn: psycopg.Connection[Any],
    rng: random.Random,
    ids: range,
    uid0: int,
    password: str,
    tag: int,
    demo_login: bool,
) -> None:
    with conn.cursor().copy(
        "copy kitaab.users (user_id, email, password_hash, full_name, email_verified, "
        "timezone, onboarded_at) from stdin"
    ) as copy:
        for n in ids:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = (
                DEMO_EMAIL
                if demo_login and n == 0
                else f"{first.lower()}.{last.lower()}.{tag:x}.{uid0 + n}@kitaab.example"
            )
            zone = "UTC" if demo_login and n == 0 else rng.choice(ZONES)
            copy.write_row((uid0 + n, email, password, f"{first} {last}", True, zone, "now"))
    with conn.cursor().copy(
        "copy kitaab.notifications (user_id, notification_time) from stdin"
    ) as copy:
        for n in ids:
            if n % 2 == 0:
                copy.write_row((uid0 + n, dt.time(rng.choice([5, 6, 7, 20, 21]), 0)))


def _deeds(
    conn: psycopg.Connection[Any],
    ids: range,
    uid0: int,
    did0: int,
    iid0: int,
    sid0: int,
    vid0: int,
) -> None:
    with conn.cursor().copy(
        "copy kitaab.deeds (deed_id, user_id, name, category_type, display_order) from stdin"
    ) as copy:
        for n in ids:
            for d, (name, category) in enumerate(DEEDS):
                copy.write_row((did0 + n * len(DEEDS) + d, uid0 + n, name, category, d))
    with conn.cursor().copy(
        "copy kitaab.deed_items (deed_item_id, deed_id, parent_deed_item_id, name, level, "
        "display_order) from stdin"
    ) as copy:
        for n in ids:
            base = iid0 + n * len(ITEMS)
            for i, (deed, name, parent) in enumerate(ITEMS):
                copy.write_row((base + i, did0 + n * len(DEEDS) + deed,
                                None if parent is None else base + parent, name,
                                1 if parent is None else 2, i))  # fmt: skip
    with conn.cursor().copy("copy kitaab.scales (scale_id, deed_id, name) from stdin") as copy:
        for n in ids:
            copy.write_row((sid0 + n, did0 + n * len(DEEDS), "Quality"))
    with conn.cursor().copy(
        "copy kitaab.scale_values (scale_value_id, scale_id, value_name, value_order) from stdin"
    ) as copy:
        for n in ids:
            for v, name in enumerate(SCALE):
                copy.write_row((vid0 + n * len(SCALE) + v, sid0 + n, name, v + 1))


def _social(
    conn: psycopg.Connection[Any], ids: range, users: int, uid0: int, iid0: int, rid0: int
) -> None:
    """User n follows user n+1 (accepted; the last follows the first), with read permission
    on the owner's Qur'an pages and, for every third pair, write on Fajr."""
    if users < 2:
        return
    with conn.cursor().copy(
        "copy kitaab.relations (relation_id, requester_id, requestee_id, status, responded_at) "
        "from stdin"
    ) as copy:
        for n in ids:
            copy.write_row((rid0 + n, uid0 + n, uid0 + (n + 1) % users, "accepted", "now"))
    with conn.cursor().copy(
        "copy kitaab.permissions (relation_id, deed_item_id, permission_type) from stdin"
    ) as copy:
        for n in ids:
            items = iid0 + (n + 1) % users * len(ITEMS)
            copy.write_row((rid0 + n, items + 2, "read"))
            if n % 3 == 0:
                copy.write_row((rid0 + n, items + 1, "write"))


def _goals(
    conn: psycopg.Connection[Any],
    ids: range,
    uid0: int,
    did0: int,
    iid0: int,
    mid0: int,
    start: dt.date,
    end: dt.date,
) -> None:
    with conn.cursor().copy(
        "copy kitaab.merits (merit_id, user_id, deed_id, name, completion_type, start_date, "
        "end_date) from stdin"
    ) as copy:
        for n in ids:
            copy.write_row((mid0 + n, uid0 + n, did0 + n * len(DEEDS), "A steady month", "and",
                            start, end))  # fmt: skip
    with conn.cursor().copy(
        "copy kitaab.merit_items (merit_id, deed_item_id, measure, target_value) from stdin"
    ) as copy:
        for n in ids:
            copy.write_row((mid0 + n, iid0 + n * len(ITEMS) + 2, "count", 300))


def _entries(
    conn: psycopg.Connection[Any],
    rng: random.Random,
    ids: range,
    uid0: int,
    iid0: int,
    sid0: int,
    vid0: int,
    start: dt.date,
    days: int,
) -> int:
    written = 0
    dates = [start + dt.timedelta(days=d) for d in range(days)]
    with conn.cursor().copy(
        "copy kitaab.entries (user_id, deed_item_id, entry_date, created_by_user_id, "
        "scale_id, scale_value_id, count_value) from stdin"
    ) as copy:
        for n in ids:
            user = uid0 + n
            items = iid0 + n * len(ITEMS)
            values = vid0 + n * len(SCALE)
            for day in dates:
                for item, kind, chance in RECORDED:
                    if rng.random() >= chance:
                        continue
                    row: tuple[Any, ...]
                    if kind == "scale":
                        value = values + rng.randrange(3)
                        row = (user, items + item, day, user, sid0 + n, value, None)
                    else:
                        row = (user, items + item, day, user, None, None, rng.randint(1, 12))
                    copy.write_row(row)
                    written += 1
    return written
