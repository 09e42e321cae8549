"""Task dependencies: an acyclic graph per organization, kept by pgwarden's ``graph``
feature (a dependency that would close a cycle is refused by the database, whoever writes it),
and the two questions asked of it: what blocks a task, and what finishing it unblocks."""

from __future__ import annotations

from typing import LiteralString

from psycopg import errors as pg_errors
from psycopg import sql

from pgwarden.blueprints.workspace.services._core import (
    Caller,
    Conflict,
    Core,
    Invalid,
    NotFound,
    Row,
    rows,
)
from pgwarden.db import Session

# task_id depends on depends_on_id. Walked under row-level security: the tenant's edges only.
_BLOCKERS = """
with recursive r(id) as (
    select depends_on_id from workspace.task_dependencies where task_id = %(task)s
    union
    select d.depends_on_id from workspace.task_dependencies d join r on d.task_id = r.id
)
select t.task_id, t.title, t.status, t.priority
  from r join workspace.tasks t on t.task_id = r.id
 where t.deleted_at is null {open}
 order by t.task_id
"""
_UNBLOCKS = """
with recursive r(id) as (
    select task_id from workspace.task_dependencies where depends_on_id = %(task)s
    union
    select d.task_id from workspace.task_dependencies d join r on d.depends_on_id = r.id
)
select t.task_id, t.title, t.status, t.priority
  from r join workspace.tasks t on t.task_id = r.id
 where t.deleted_at is null {open}
 order by t.task_id
"""
_OPEN = "and t.status not in ('done', 'cancelled')"


class Dependencies:
    def __init__(self, core: Core):
        self.core = core

    def add(self, caller: Caller, task_id: int, depends_on_id: int) -> Row:
        """``task_id`` depends on ``depends_on_id``. Refused: a task of another organization
        or none (:class:`NotFound`), itself (:class:`Invalid`), an edge that exists or would
        close a cycle (:class:`Conflict`, naming the path back)."""

        def work(db: Session) -> Row:
            for task in (task_id, depends_on_id):
                found = db.execute(
                    "select 1 from workspace.tasks where task_id = %s and deleted_at is null",
                    [task],
                ).fetchone()
                if found is None:
                    raise NotFound(f"no such task {task}")
            try:
                return rows(
                    db,
                    "insert into workspace.task_dependencies (organization_id, task_id,"
                    " depends_on_id) values (%s, %s, %s) returning *",
                    [caller.organization_id, task_id, depends_on_id],
                )[0]
            except pg_errors.CheckViolation as exc:  # the graph feature's trigger
                text = exc.diag.message_primary or "refused"
                if "self loop" in text:
                    raise Invalid("a task cannot depend on itself") from exc
                # "workspace.task_dependencies: edge 3 -> 1 would close a cycle (1 -> 2 -> 3
                # already leads back)": the tenant's own tasks, named.
                raise Conflict(text.split(": ", 1)[-1]) from exc

        return self.core.run(caller, work, reason="add dependency")

    def remove(self, caller: Caller, task_id: int, depends_on_id: int) -> None:
        def work(db: Session) -> int:
            cur = db.execute(
                "delete from workspace.task_dependencies where task_id = %s and depends_on_id = %s",
                [task_id, depends_on_id],
            )
            return int(cur.rowcount)

        if self.core.run(caller, work, reason="remove dependency") == 0:
            raise NotFound("no such dependency")

    def blockers(self, caller: Caller, task_id: int, *, open_only: bool = True) -> list[Row]:
        """Every task ``task_id`` waits on, directly or through others (open ones only,
        unless ``open_only`` is false)."""
        return self._walk(caller, _BLOCKERS, task_id, open_only)

    def unblocks(self, caller: Caller, task_id: int, *, open_only: bool = True) -> list[Row]:
        """Every task that waits on ``task_id``, directly or through others."""
        return self._walk(caller, _UNBLOCKS, task_id, open_only)

    def _walk(
        self, caller: Caller, walk: LiteralString, task_id: int, open_only: bool
    ) -> list[Row]:
        query = sql.SQL(walk).format(open=sql.SQL(_OPEN if open_only else ""))
        return self.core.run(caller, lambda db: rows(db, query, {"task": task_id}))
