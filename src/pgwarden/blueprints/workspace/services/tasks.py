"""Tasks: created, changed, completed, soft-deleted and restored; the board, search, history."""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from pgwarden.blueprints.workspace.services._core import (
    Caller,
    Conflict,
    Core,
    Invalid,
    Row,
    one,
    rows,
    updates,
)
from pgwarden.db import Session

STATUSES = ("todo", "in_progress", "blocked", "done", "cancelled")
EDITABLE = (
    "title",
    "description",
    "status",
    "priority",
    "task_type",
    "assignee_id",
    "project_id",
    "metadata",
    "estimated_minutes",
    "actual_duration_minutes",
    "quality_score",
    "due_date",
)
_BOARD = (  # what a card shows, on the board's covering index
    "select task_id, project_id, title, status, priority, assignee_id, due_date"
    " from workspace.tasks where {} order by status, priority, task_id limit %s"
)
_OPEN_BLOCKERS = """
select d.depends_on_id from workspace.task_dependencies d
  join workspace.tasks t on t.task_id = d.depends_on_id
 where d.task_id = %s and t.deleted_at is null and t.status not in ('done', 'cancelled')
"""


class Tasks:
    def __init__(self, core: Core):
        self.core = core

    def create(
        self,
        caller: Caller,
        title: str,
        *,
        project_id: int | None = None,
        description: str = "",
        priority: int = 3,
        task_type: str = "general",
        assignee_id: int | None = None,
        metadata: dict[str, Any] | None = None,
        estimated_minutes: int | None = None,
        due_date: Any = None,
    ) -> Row:
        return self.core.run(
            caller,
            lambda db: one(
                db,
                "insert into workspace.tasks (organization_id, project_id, title, description,"
                " priority, task_type, assignee_id, created_by, metadata, estimated_minutes,"
                " due_date) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning *",
                [
                    caller.organization_id,
                    project_id,
                    title,
                    description,
                    priority,
                    task_type,
                    assignee_id,
                    caller.user_id,
                    Jsonb(metadata or {}),
                    estimated_minutes,
                    due_date,
                ],
            ),
            reason="create task",
        )

    def get(self, caller: Caller, task_id: int) -> Row:
        return self.core.run(caller, lambda db: self._get(db, task_id))

    @staticmethod
    def _get(db: Session, task_id: int) -> Row:
        return one(
            db,
            "select * from workspace.tasks where task_id = %s and deleted_at is null",
            [task_id],
            "no such task",
        )

    def update(self, caller: Caller, task_id: int, fields: dict[str, Any]) -> Row:
        """Change a task. ``status = 'done'`` stamps ``completed_at`` and is refused
        (:class:`Conflict`) while a task it depends on is open; leaving done clears it."""
        fields = dict(fields)
        if "metadata" in fields:
            fields["metadata"] = Jsonb(fields["metadata"])
        status = fields.get("status")
        if status is not None and status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}")
        query = sql.SQL(
            "update workspace.tasks set {} where task_id = %(id)s and deleted_at is null"
            " returning *"
        ).format(
            updates(fields, EDITABLE)
            if status is None
            else sql.SQL(", ").join(
                [
                    updates(fields, EDITABLE),
                    sql.SQL(
                        "completed_at = case when %(done)s then coalesce(completed_at, %(now)s) end"
                    ),
                ]
            )
        )

        def work(db: Session) -> Row:
            if status == "done":
                blockers = [r[0] for r in db.execute(_OPEN_BLOCKERS, [task_id]).fetchall()]
                if blockers:
                    listed = ", ".join(map(str, blockers[:10]))
                    raise Conflict(f"task {task_id} waits on open task(s) {listed}")
            params = {**fields, "id": task_id, "now": self.core.now(), "done": status == "done"}
            return one(db, query, params, "no such task")

        return self.core.run(caller, work, reason=f"set {status}" if status else "edit task")

    def delete(self, caller: Caller, task_id: int) -> None:
        """Soft delete (restorable); its dependency edges stay, and are ignored while it is
        deleted."""

        def work(db: Session) -> None:
            self._get(db, task_id)
            db.execute("delete from workspace.tasks where task_id = %s", [task_id])

        self.core.run(caller, work, reason="delete task")

    def restore(self, caller: Caller, task_id: int) -> Row:
        return self.core.run(
            caller,
            lambda db: one(
                db,
                "update workspace.tasks set deleted_at = null where task_id = %s"
                " and deleted_at is not null returning *",
                [task_id],
                "no deleted task with this id",
            ),
            reason="restore task",
        )

    def board(
        self,
        caller: Caller,
        *,
        status: str | None = None,
        project_id: int | None = None,
        assignee_id: int | None = None,
        limit: int = 100,
    ) -> list[Row]:
        """The organization's live tasks, by status then priority (the seed's dashboard
        query, on its covering index), optionally of one status, project or assignee."""
        if status is not None and status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}")
        where: list[sql.Composable] = [sql.SQL("deleted_at is null")]
        params: list[Any] = []
        for column, value in (
            ("status", status),
            ("project_id", project_id),
            ("assignee_id", assignee_id),
        ):
            if value is not None:
                where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
                params.append(value)
        query = sql.SQL(_BOARD).format(sql.SQL(" and ").join(where))
        return self.core.run(
            caller, lambda db: rows(db, query, [*params, max(1, min(limit, 1000))])
        )

    def search(self, caller: Caller, text: str, *, limit: int = 20, offset: int = 0) -> list[Row]:
        """Full-text search over titles and descriptions (a title typo falls back to trigram
        similarity), best first, with highlights; the organization's tasks only."""
        return self.core.run(
            caller,
            lambda db: rows(
                db,
                "select (s.item).task_id, (s.item).title, (s.item).status, s.rank,"
                " s.headline, s.fuzzy from warden.workspace_tasks__search(%s, %s, %s) s",
                [text, max(1, min(limit, 100)), max(0, offset)],
            ),
        )

    def history(self, caller: Caller, task_id: int) -> list[Row]:
        """Every version of the task (pgwarden's versioning over its audit trail): who
        changed it, when, why, and its values then."""
        return self.core.run(
            caller,
            lambda db: rows(
                db,
                "select version, valid_from, valid_to, op, actor, reason, title, status,"
                " priority, assignee_id, deleted_at from workspace.tasks__versions"
                " where task_id = %s order by version",
                [task_id],
            ),
        )
