"""Reminders at a local time, once per local day, across time zones and DST changes; the
scheduler's clock is injected."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from tests.kitaab.conftest import Account, Clock

UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def sent_to(app: Any, now: dt.datetime, *only: Account) -> list[tuple[int, str]]:
    """One scheduler tick at ``now``: (user, local date) of each reminder sent (to ``only``)."""
    users = {a.user_id for a in only}
    return [
        (r["user_id"], r["local_date"].isoformat())
        for r in app.reminders.run_due(now)
        if not users or r["user_id"] in users
    ]


def test_time_zones_and_once_per_local_day(
    client: TestClient, signup: Callable[..., Account], app: Any, clock: Clock
) -> None:
    clock.at = at(2026, 1, 10, 0, 0)
    tokyo, la = signup("wafa", "Asia/Tokyo"), signup("xavier", "America/Los_Angeles")
    for who in (tokyo, la):
        r = client.put("/reminder", headers=who.headers, json={"time": "08:00:00"})
        assert r.status_code == 200, r.text
    # 08:00 in Tokyo is 23:00 UTC the day before; in Los Angeles 16:00 UTC.
    assert sent_to(app, at(2026, 1, 10, 15, 59)) == []
    assert sent_to(app, at(2026, 1, 10, 16, 0)) == [(la.user_id, "2026-01-10")]
    assert sent_to(app, at(2026, 1, 10, 16, 1)) == []  # once per local day
    assert sent_to(app, at(2026, 1, 10, 23, 0)) == [(tokyo.user_id, "2026-01-11")]
    # Changing the time later the same local day does not send twice that day.
    clock.at = at(2026, 1, 10, 16, 30)
    client.put("/reminder", headers=la.headers, json={"time": "09:00:00"})
    assert sent_to(app, at(2026, 1, 10, 17, 5)) == []
    assert sent_to(app, at(2026, 1, 11, 17, 0)) == [(la.user_id, "2026-01-11")]
    # A missed day is skipped, not sent late.
    assert sent_to(app, at(2026, 1, 13, 12, 0)) == []
    assert sent_to(app, at(2026, 1, 13, 17, 0)) == [(la.user_id, "2026-01-13")]
    # Moving to another zone moves the reminder.
    clock.at = at(2026, 1, 13, 18, 0)
    client.patch("/me", headers=la.headers, json={"timezone": "Europe/London"})
    assert sent_to(app, at(2026, 1, 14, 8, 59), la) == []
    assert sent_to(app, at(2026, 1, 14, 9, 0), la) == [(la.user_id, "2026-01-14")]
    assert client.delete("/reminder", headers=la.headers).status_code == 204
    assert sent_to(app, at(2026, 1, 15, 9, 0), la) == []
    two = client.put("/reminder", headers=la.headers, json={"time": "10:00:00"})
    assert two.status_code == 200


def test_dst_changes(
    client: TestClient, signup: Callable[..., Account], app: Any, clock: Clock
) -> None:
    clock.at = at(2026, 3, 27, 12, 0)
    berlin = signup("yusuf", "Europe/Berlin")
    client.put("/reminder", headers=berlin.headers, json={"time": "07:30:00"})
    # Before the change (CET, UTC+1) 07:30 is 06:30 UTC; from 29 March (CEST) 05:30 UTC.
    assert sent_to(app, at(2026, 3, 28, 6, 30)) == [(berlin.user_id, "2026-03-28")]
    assert sent_to(app, at(2026, 3, 29, 5, 29)) == []
    assert sent_to(app, at(2026, 3, 29, 5, 30)) == [(berlin.user_id, "2026-03-29")]
    assert sent_to(app, at(2026, 3, 29, 6, 30)) == []  # the old UTC time: no second send

    # A local time the spring change skips (02:30 on 8 March in New York) fires once, when
    # the clock jumps past it (03:30 EDT = 07:30 UTC); the repeated hour in November once.
    clock.at = at(2026, 3, 7, 12, 0)
    ny = signup("zainab", "America/New_York")
    client.put("/reminder", headers=ny.headers, json={"time": "02:30:00"})
    assert sent_to(app, at(2026, 3, 8, 7, 29)) == []
    assert sent_to(app, at(2026, 3, 8, 7, 30)) == [(ny.user_id, "2026-03-08")]
    assert sent_to(app, at(2026, 3, 9, 6, 30)) == [(ny.user_id, "2026-03-09")]  # EDT
    clock.at = at(2026, 10, 31, 12, 0)
    login = client.post("/auth/login", json={"email": ny.email, "password": "correct horse"})
    ny.headers = {"Authorization": f"Bearer {login.json()['token']}"}  # months later
    moved = client.put("/reminder", headers=ny.headers, json={"time": "01:30:00"})
    assert moved.status_code == 200, moved.text
    first = at(2026, 11, 1, 5, 30)  # 01:30 EDT
    second = at(2026, 11, 1, 6, 30)  # 01:30 EST, the same local time an hour later
    fired = sent_to(app, first) + sent_to(app, second)
    assert [u for u, _ in fired if u == ny.user_id] == [ny.user_id]
