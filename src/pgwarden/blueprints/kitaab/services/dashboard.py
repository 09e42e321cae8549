"""The 30-day dashboard (totals and a daily series by category) and the audit log of a
user's own changes (the seed's audit_log, read from pgwarden's audit trail)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pgwarden.blueprints.kitaab.services._core import Core, Row, rows
from pgwarden.features.audit import _runtime as audit_reads

DAYS = 30
# The dashboard's two statements (bench/tenancy_session.py times them too).
LOCAL_DATE = "select (%s at time zone timezone)::date from kitaab.users where user_id = %s"
SERIES = (
    "select e.entry_date, d.category_type::text as category, count(*) as entries, "
    "coalesce(sum(e.count_value), 0) as total_count, "
    "count(e.scale_value_id) as scale_entries "
    "from kitaab.entries e "
    "join kitaab.deed_items di on di.deed_item_id = e.deed_item_id "
    "join kitaab.deeds d on d.deed_id = di.deed_id "
    "where e.user_id = %s and e.entry_date between %s and %s "
    "and di.is_active and d.deleted_at is null "
    "group by e.entry_date, d.category_type order by e.entry_date, category"
)


class Dashboard:
    def __init__(self, core: Core):
        self.core = core

    def summary(self, user_id: int, today: dt.date | None = None, days: int = DAYS) -> Row:
        """Entries of the last ``days`` days up to ``today`` (the user's local date by
        default): per category the entry count, count total, scale entries; per day and
        category the same, for charts."""
        with self.core.tx(user_id) as db:
            if today is None:
                found = db.execute(LOCAL_DATE, (self.core.now(), user_id)).fetchone()
                today = found[0] if found else self.core.now().date()
            assert today is not None
            since = today - dt.timedelta(days=days - 1)
            series = rows(db, SERIES, (user_id, since, today))
        totals: dict[str, dict[str, Any]] = {
            c: {"entries": 0, "total_count": 0, "scale_entries": 0, "active_days": 0}
            for c in ("hasanaat", "saiyyiaat")
        }
        for point in series:
            total = totals[point["category"]]
            total["entries"] += point["entries"]
            total["total_count"] += point["total_count"]
            total["scale_entries"] += point["scale_entries"]
            total["active_days"] += 1
        for total in totals.values():
            total["average_per_day"] = round(float(total["total_count"]) / days, 2)
        return {"since": since, "until": today, "days": days, "totals": totals, "series": series}


class AuditLog:
    def __init__(self, core: Core):
        self.core = core

    def mine(self, user_id: int, limit: int = 100) -> list[Row]:
        """The user's own recorded changes, newest first: table, operation, key, changed
        columns, when, why (pgwarden's audit trail, actor ``user:<id>``)."""
        # In the user's session: the audit store's row-level security shows them their
        # entries' events (and those of entries shared with them), no one else's.
        with self.core.tx(user_id) as db:
            events = audit_reads.log(db.connection, actor=f"user:{user_id}", limit=limit)
        return [
            {
                "event_id": e.event_id,
                "at": e.at,
                "table": e.table,
                "op": {"I": "insert", "U": "update", "D": "delete", "T": "truncate"}[e.op],
                "key": e.key,
                "changed": _changed(e.old_row, e.new_row),
                "old": e.old_row,
                "new": e.new_row,
                "reason": e.reason,
            }
            for e in events
        ]


def _changed(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str] | None:
    if old is None or new is None:
        return None
    return sorted(k for k in new.keys() | old.keys() if old.get(k) != new.get(k))
