"""The analytics module: per organization and day, tasks created / completed / minutes and
events by source, read from the materialized views (refreshed concurrently by ``pgwarden
maintain``) through the tenant views install makes; the same aggregates computed live, for
comparison and for figures that cannot wait for a refresh."""

from __future__ import annotations

import datetime as dt

from pgwarden.blueprints.workspace.services._core import Caller, Core, Row, rows

_TASK_DAYS = """
select day, created, completed, minutes, timed
  from workspace_analytics.task_days
 where day between %(start)s and %(end)s order by day
"""
# The materialized view's query, run live under row-level security (the tenant's rows).
_TASK_DAYS_LIVE = """
select (t.created_at at time zone 'UTC')::date as day, count(*) as created,
       count(*) filter (where t.status = 'done') as completed,
       coalesce(sum(t.actual_duration_minutes), 0) as minutes,
       count(t.actual_duration_minutes) as timed
  from workspace.tasks t
 where t.deleted_at is null
   and t.created_at >= %(start)s::date and t.created_at < %(end)s::date + 1
 group by 1 order by 1
"""
_EVENT_DAYS = """
select day, source::text, events, event_types
  from workspace_analytics.event_days
 where day between %(start)s and %(end)s order by day, source
"""
_EVENT_DAYS_LIVE = """
select (e.occurred_at at time zone 'UTC')::date as day, e.source::text, count(*) as events,
       count(distinct e.event_type) as event_types
  from workspace.events e
 where e.occurred_at >= %(start)s::date and e.occurred_at < %(end)s::date + 1
 group by 1, 2 order by 1, 2
"""


class Analytics:
    def __init__(self, core: Core):
        self.core = core

    def task_days(
        self, caller: Caller, start: dt.date, end: dt.date, *, live: bool = False
    ) -> list[Row]:
        """Per day from ``start`` to ``end`` (inclusive, UTC days): tasks created, of them
        done, minutes spent and tasks timed (mean = minutes / timed). From the view, as of
        its last refresh; ``live``: computed now from the tasks."""
        query = _TASK_DAYS_LIVE if live else _TASK_DAYS
        return self.core.run(caller, lambda db: rows(db, query, {"start": start, "end": end}))

    def event_days(
        self, caller: Caller, start: dt.date, end: dt.date, *, live: bool = False
    ) -> list[Row]:
        """Per day and source: events and distinct event types."""
        query = _EVENT_DAYS_LIVE if live else _EVENT_DAYS
        return self.core.run(caller, lambda db: rows(db, query, {"start": start, "end": end}))
