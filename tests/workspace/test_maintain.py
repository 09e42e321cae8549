"""What ``maintain`` keeps, under a controlled clock: event partitions made ahead, months past
the retention handed whole to the archive (still readable, still deduplicated), and the
analytics views refreshed to equal the aggregates computed directly."""

from __future__ import annotations

import datetime as dt

import psycopg
from tests.workspace.conftest import T0, Org, scalar

from pgwarden import Warden
from pgwarden.blueprints import workspace
from pgwarden.blueprints.workspace.services import Event, Workspace


def _partitions(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            r[0]
            for r in conn.execute(
                "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                "where i.inhparent = 'workspace.events'::regclass"
            )
        }


def test_partitions_made_ahead_and_archived(
    app: Workspace, operator: Warden, acme: Org, workspace_url: str
) -> None:
    only = workspace.tables(operator.spec)
    assert {"events__p202603", "events__p202604", "events__p202605"} <= _partitions(workspace_url)
    me = acme.caller
    march = [Event("github", f"m{i}", "push", T0 + dt.timedelta(hours=i), {}) for i in range(30)]
    assert app.events.ingest(me, march).stored == 30
    # an event from beyond the partitions made: kept in the default partition until its
    # month is made, then moved in
    late = Event("slack", "late", "message", dt.datetime(2026, 7, 15, tzinfo=dt.UTC), {})
    app.events.ingest(me, [late])
    assert scalar(workspace_url, "select count(*) from workspace.events__default") == 1
    operator.maintain(only=only, now=T0 + dt.timedelta(days=60))
    parts = _partitions(workspace_url)
    assert {"events__p202606", "events__p202607"} <= parts
    assert scalar(workspace_url, "select count(*) from workspace.events__default") == 0
    assert scalar(workspace_url, "select count(*) from workspace.events__p202607") == 1

    # thirteen months on: March 2026 is past the 12-month retention and leaves the table,
    # whole, into the archive; the union view still reads every event
    operator.maintain(only=only, now=dt.datetime(2027, 4, 2, tzinfo=dt.UTC))
    parts = _partitions(workspace_url)
    assert "events__p202603" not in parts and "events__p202704" in parts
    assert scalar(workspace_url, "select count(*) from workspace.events") == 1
    assert scalar(workspace_url, "select count(*) from workspace.events__all") == 31
    # the archived events stay deduplicated: a redelivery is not stored again
    assert app.events.ingest(me, march[:5]).stored == 0
    # and the tenant reads them through the union view under row-level security
    with app.warden.session(tenant=str(me.organization_id)) as db:
        assert db.execute("select count(*) from workspace.events__all").fetchone() == (31,)
    with app.warden.session(tenant=str(me.organization_id + 1000)) as db:
        assert db.execute("select count(*) from workspace.events__all").fetchone() == (0,)


def test_analytics_views_equal_the_direct_aggregate(
    app: Workspace, operator: Warden, acme: Org, globex: Org, workspace_url: str
) -> None:
    me, other = acme.caller, globex.caller
    for caller, n in ((me, 12), (other, 5)):
        for i in range(n):
            task = app.tasks.create(caller, f"task {i}")
            if i % 3 == 0:
                app.tasks.update(
                    caller, task["task_id"], {"status": "done", "actual_duration_minutes": 10 + i}
                )
        app.events.ingest(
            caller,
            [
                Event(
                    ("linear", "github", "slack")[i % 3],
                    f"e{i}",
                    f"t{i % 2}",
                    T0 + dt.timedelta(days=i % 4),
                    {},
                )
                for i in range(n)
            ],
        )
    deleted = app.tasks.create(me, "gone")
    app.tasks.delete(me, deleted["task_id"])
    start, end = dt.date(2020, 1, 1), dt.date(2030, 1, 1)
    assert app.analytics.task_days(me, start, end) == []  # not refreshed yet
    operator.maintain(names=["view-refresh"])  # database-wide: no `only`
    for caller in (me, other):
        assert app.analytics.task_days(caller, start, end) == app.analytics.task_days(
            caller, start, end, live=True
        )
        assert app.analytics.event_days(caller, start, end) == app.analytics.event_days(
            caller, start, end, live=True
        )
    mine = app.analytics.task_days(me, start, end)
    assert sum(d["created"] for d in mine) == 12 and sum(d["completed"] for d in mine) == 4
    assert sum(d["events"] for d in app.analytics.event_days(other, start, end)) == 5
    # the whole view against one direct aggregate over every organization (the operator's)
    with psycopg.connect(workspace_url) as conn:
        direct = conn.execute(
            "select organization_id, (created_at at time zone 'UTC')::date, count(*),"
            " count(*) filter (where status = 'done'), coalesce(sum(actual_duration_minutes), 0)"
            " from workspace.tasks where deleted_at is null group by 1, 2 order by 1, 2"
        ).fetchall()
        view = conn.execute(
            "select organization_id, day, created, completed, minutes"
            " from workspace_analytics.daily_task_summary order by 1, 2"
        ).fetchall()
    assert view == direct
    # a change, then the next refresh (due 5 minutes on): concurrent, and equal again
    app.tasks.create(me, "later")
    assert app.analytics.task_days(me, start, end) != app.analytics.task_days(
        me, start, end, live=True
    )
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)
    operator.maintain(names=["view-refresh"], now=later)
    assert app.analytics.task_days(me, start, end) == app.analytics.task_days(
        me, start, end, live=True
    )
    last = scalar(
        workspace_url,
        "select concurrent from warden.view_refreshes where view_name"
        " = 'workspace_analytics.daily_task_summary' order by refresh_id desc limit 1",
    )
    assert last is True
