"""Merits (goals within one deed) and targets (goals across deeds): each item counts the
owner's entries of one deed item between the goal's dates — the sum of ``count_value``
(count items) or the number of entries with a given scale value (scale items) — against its
``target_value``. ``and``: every item must be reached; ``or``: one is enough. When a goal is
reached, ``completed_at`` is set (once)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal, LiteralString

from psycopg import sql

from pgwarden.blueprints.kitaab.services._core import Core, Forbidden, Invalid, Row, one, rows
from pgwarden.blueprints.kitaab.services.deeds import item_owner, owned_deed
from pgwarden.db import Session

Kind = Literal["merit", "target"]

# Per goal kind: the static SQL of its items' progress and of completing it.
_ITEMS: dict[Kind, LiteralString] = {
    "merit": (
        "select g.merit_id as goal_id, g.completion_type::text, g.completed_at, "
        "i.merit_item_id as item_id, i.deed_item_id, i.measure::text, i.scale_value_id, "
        "i.target_value, coalesce((select case when i.measure = 'count' "
        "then coalesce(sum(e.count_value), 0) "
        "else count(*) filter (where e.scale_value_id = i.scale_value_id) end "
        "from kitaab.entries e where e.user_id = g.user_id and e.deed_item_id = i.deed_item_id "
        "and e.entry_date between g.start_date and g.end_date), 0) as achieved "
        "from kitaab.merits g join kitaab.merit_items i using (merit_id) "
        "where g.merit_id = any(%s) order by i.merit_item_id"
    ),
    "target": (
        "select g.target_id as goal_id, g.completion_type::text, g.completed_at, "
        "i.target_item_id as item_id, i.deed_item_id, i.measure::text, i.scale_value_id, "
        "i.target_value, coalesce((select case when i.measure = 'count' "
        "then coalesce(sum(e.count_value), 0) "
        "else count(*) filter (where e.scale_value_id = i.scale_value_id) end "
        "from kitaab.entries e where e.user_id = g.user_id and e.deed_item_id = i.deed_item_id "
        "and e.entry_date between g.start_date and g.end_date), 0) as achieved "
        "from kitaab.targets g join kitaab.target_items i using (target_id) "
        "where g.target_id = any(%s) order by i.target_item_id"
    ),
}
_COMPLETE: dict[Kind, LiteralString] = {
    "merit": "update kitaab.merits set completed_at = now() "
    "where merit_id = any(%s) and completed_at is null",
    "target": "update kitaab.targets set completed_at = now() "
    "where target_id = any(%s) and completed_at is null",
}
KINDS: tuple[Kind, Kind] = ("merit", "target")
# Active, unfinished goals of a user that count one deed item on one date, as two arrays
# (merit_ids, target_ids): also part of the statement that records an entry.
AFFECTED_IDS = sql.SQL(
    "array(select distinct g.merit_id from kitaab.merits g join kitaab.merit_items i "
    "using (merit_id) where g.user_id = {owner} and i.deed_item_id = {item} and g.is_active "
    "and g.completed_at is null and {day} between g.start_date and g.end_date) as merit_ids, "
    "array(select distinct g.target_id from kitaab.targets g join kitaab.target_items i "
    "using (target_id) where g.user_id = {owner} and i.deed_item_id = {item} and g.is_active "
    "and g.completed_at is null and {day} between g.start_date and g.end_date) as target_ids"
)
_ACTIVE: dict[Kind, LiteralString] = {
    "merit": "select merit_id from kitaab.merits where user_id = %s and is_active "
    "and completed_at is null",
    "target": "select target_id from kitaab.targets where user_id = %s and is_active "
    "and completed_at is null",
}


def evaluate(db: Session, kind: Kind, goal_ids: Sequence[int]) -> dict[int, Row]:
    """Progress of each goal; goals newly reached get ``completed_at``."""
    goals: dict[int, Row] = {}
    for item in rows(db, _ITEMS[kind], (list(goal_ids),)):
        goal = goals.setdefault(
            item["goal_id"],
            {
                f"{kind}_id": item["goal_id"],
                "completion_type": item["completion_type"],
                "completed_at": item["completed_at"],
                "items": [],
            },
        )
        item["complete"] = item["achieved"] >= item["target_value"]
        goal["items"].append({k: v for k, v in item.items() if k not in
                              ("goal_id", "completion_type", "completed_at")})  # fmt: skip
    reached = []
    for goal_id, goal in goals.items():
        done = [i["complete"] for i in goal["items"]]
        goal["complete"] = all(done) if goal["completion_type"] == "and" else any(done)
        if goal["complete"] and goal["completed_at"] is None:
            reached.append(goal_id)
    if reached:
        db.execute(_COMPLETE[kind], (reached,))
        stamp = db.execute("select now()").fetchone()
        for goal_id in reached:
            goals[goal_id]["completed_at"] = stamp[0] if stamp else None
    return goals


def refresh_item(
    core: Core,
    db: Session,
    user_id: int,
    deed_item_id: int,
    on: dt.date,
    affected: dict[Kind, list[int]] | None = None,
) -> None:
    """After an entry of ``user_id`` (the owner) changed: re-evaluate the goals that count it
    (same transaction). ``affected``: their ids by kind, when the caller's statement already
    found them. A goal counts all the owner's entries, and a connected writer's tenant sees
    only those of the items shared with it: the goals are evaluated as the owner's tenant
    (:meth:`Core.acting_for`), the writer's again afterwards."""
    if affected is None:
        found = db.execute(
            sql.SQL("select {}").format(
                AFFECTED_IDS.format(**{p: sql.Placeholder(p) for p in ("owner", "item", "day")})
            ),
            {"owner": user_id, "item": deed_item_id, "day": on},
        ).fetchone()
        affected = {"merit": found[0], "target": found[1]}
    if not any(affected[kind] for kind in KINDS):
        return
    with core.acting_for(db, user_id):
        for kind in KINDS:
            if affected[kind]:
                evaluate(db, kind, affected[kind])


class Progress:
    def __init__(self, core: Core):
        self.core = core

    def create(
        self,
        kind: Kind,
        user_id: int,
        name: str,
        start_date: dt.date,
        end_date: dt.date,
        items: Sequence[dict[str, Any]],
        completion_type: str = "and",
        deed_id: int | None = None,
    ) -> Row:
        """A merit (``deed_id`` given: items from that deed) or a target (items from any of
        the user's deeds). Item: ``deed_item_id``, ``target_value``, optional
        ``scale_value_id`` (then it counts entries with that value)."""
        if not items:
            raise Invalid(f"a {kind} needs at least one item")
        if completion_type not in ("and", "or"):
            raise Invalid("completion_type must be and or or")
        with self.core.tx(user_id, f"create {kind}") as db:
            if kind == "merit":
                if deed_id is None:
                    raise Invalid("a merit belongs to one deed: give deed_id")
                owned_deed(db, user_id, deed_id)
                goal = one(
                    db,
                    "insert into kitaab.merits (user_id, deed_id, name, completion_type, "
                    "start_date, end_date) values (%s, %s, %s, %s, %s, %s) returning merit_id",
                    (user_id, deed_id, name, completion_type, start_date, end_date),
                )
            else:
                goal = one(
                    db,
                    "insert into kitaab.targets (user_id, name, completion_type, start_date, "
                    "end_date) values (%s, %s, %s, %s, %s) returning target_id",
                    (user_id, name, completion_type, start_date, end_date),
                )
            goal_id = int(goal[f"{kind}_id"])
            for n, item in enumerate(items):
                self._add_item(db, kind, user_id, goal_id, deed_id, n, item)
            result = evaluate(db, kind, [goal_id])[goal_id]
        result["name"] = name
        return result

    def _add_item(
        self,
        db: Session,
        kind: Kind,
        user_id: int,
        goal_id: int,
        deed_id: int | None,
        n: int,
        item: dict[str, Any],
    ) -> None:
        owner = item_owner(db, int(item["deed_item_id"]))
        if owner["user_id"] != user_id:
            raise Forbidden(f"items[{n}]: this deed item belongs to another user")
        if deed_id is not None and owner["deed_id"] != deed_id:
            raise Invalid(f"items[{n}]: a merit's items come from its own deed")
        scale_value = item.get("scale_value_id")
        if scale_value is not None:
            found = db.execute(
                "select 1 from kitaab.scale_values v join kitaab.scales s using (scale_id) "
                "where v.scale_value_id = %s and s.deed_id = %s",
                (scale_value, owner["deed_id"]),
            ).fetchone()
            if found is None:
                raise Invalid(f"items[{n}]: scale_value_id is not a value of this deed's scales")
        measure = "scale" if scale_value is not None else "count"
        query: LiteralString = (
            "insert into kitaab.merit_items (merit_id, deed_item_id, measure, scale_value_id, "
            "target_value) values (%s, %s, %s, %s, %s)"
            if kind == "merit"
            else "insert into kitaab.target_items (target_id, deed_item_id, measure, "
            "scale_value_id, target_value) values (%s, %s, %s, %s, %s)"
        )
        db.execute(query, (goal_id, item["deed_item_id"], measure, scale_value,
                           item["target_value"]))  # fmt: skip

    def progress(self, kind: Kind, user_id: int, goal_id: int) -> Row:
        with self.core.tx(user_id, f"{kind} progress") as db:
            table_check: LiteralString = (
                "select user_id, name from kitaab.merits where merit_id = %s"
                if kind == "merit"
                else "select user_id, name from kitaab.targets where target_id = %s"
            )
            goal = one(db, table_check, (goal_id,), missing=f"{kind} {goal_id} not found")
            if goal["user_id"] != user_id:
                raise Forbidden(f"this {kind} belongs to another user")
            result = evaluate(db, kind, [goal_id])[goal_id]
        result["name"] = goal["name"]
        return result

    def refresh(self, user_id: int) -> dict[str, list[Row]]:
        """The scheduled check of the seed: every active, unfinished goal of the user."""
        found: dict[str, list[Row]] = {}
        with self.core.tx(user_id, "progress check", actor="kitaab:progress") as db:
            for kind in ("merit", "target"):
                ids = [r[0] for r in db.execute(_ACTIVE[kind], (user_id,))]
                found[kind + "s"] = list(evaluate(db, kind, ids).values()) if ids else []
        return found
