"""Projects: created, listed, soft-deleted and restored (pgwarden's soft_delete)."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from pgwarden.blueprints.workspace.services._core import (
    Caller,
    Conflict,
    Core,
    NotFound,
    Row,
    one,
    rows,
    updates,
)
from pgwarden.db import Session

EDITABLE = ("name", "description", "status")


class Projects:
    def __init__(self, core: Core):
        self.core = core

    def create(self, caller: Caller, name: str, description: str = "") -> Row:
        return self.core.run(
            caller,
            lambda db: one(
                db,
                "insert into workspace.projects (organization_id, name, description, created_by)"
                " values (%s, %s, %s, %s) returning *",
                [caller.organization_id, name, description, caller.user_id],
            ),
        )

    def list(self, caller: Caller) -> list[Row]:
        """The organization's live projects with their open and done task counts."""
        return self.core.run(
            caller,
            lambda db: rows(
                db,
                "select p.project_id, p.name, p.description, p.status, p.created_at,"
                " count(t.task_id) filter (where t.status not in ('done', 'cancelled')) as open,"
                " count(t.task_id) filter (where t.status = 'done') as done"
                " from workspace.projects p left join workspace.tasks t"
                " on t.project_id = p.project_id and t.deleted_at is null"
                " where p.deleted_at is null group by p.project_id order by p.project_id",
            ),
        )

    def get(self, caller: Caller, project_id: int) -> Row:
        return self.core.run(
            caller,
            lambda db: one(
                db,
                "select * from workspace.projects where project_id = %s and deleted_at is null",
                [project_id],
                "no such project",
            ),
        )

    def update(self, caller: Caller, project_id: int, fields: dict[str, Any]) -> Row:
        query = sql.SQL(
            "update workspace.projects set {} where project_id = %(id)s"
            " and deleted_at is null returning *"
        ).format(updates(fields, EDITABLE))
        return self.core.run(
            caller, lambda db: one(db, query, {**fields, "id": project_id}, "no such project")
        )

    def delete(self, caller: Caller, project_id: int) -> None:
        """Soft delete: the row stays, marked (restorable); its tasks are refused while any
        is live (the key from tasks is RESTRICT)."""

        def work(db: Session) -> None:
            live = db.execute(
                "select count(*) from workspace.tasks where project_id = %s and deleted_at is null",
                [project_id],
            ).fetchone()
            if live and live[0]:
                # the database refuses it too (soft delete honours the RESTRICT key); said
                # here in words
                raise Conflict(f"the project has {live[0]} live task(s): move or delete them")
            cur = db.execute(
                "delete from workspace.projects where project_id = %s and deleted_at is null",
                [project_id],
            )
            gone = db.execute(
                "select 1 from workspace.projects where project_id = %s and deleted_at is not null",
                [project_id],
            ).fetchone()
            if cur.rowcount == 0 and gone is None:
                raise NotFound("no such project")

        self.core.run(caller, work, reason="delete project")

    def restore(self, caller: Caller, project_id: int) -> Row:
        return self.core.run(
            caller,
            lambda db: one(
                db,
                "update workspace.projects set deleted_at = null where project_id = %s"
                " and deleted_at is not null returning *",
                [project_id],
                "no deleted project with this id",
            ),
            reason="restore project",
        )
