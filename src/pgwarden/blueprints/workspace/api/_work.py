"""Routes of the workspace's core: projects, tasks, their dependencies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from pgwarden.blueprints.workspace.api._deps import (
    App,
    Me,
    NewDependency,
    NewProject,
    NewTask,
    ProjectChange,
    Status,
    TaskChange,
)

router = APIRouter()
Rows = list[dict[str, Any]]


@router.get("/projects", tags=["projects"])
def list_projects(app: App, me: Me) -> Rows:
    """The organization's live projects, with open and done task counts."""
    return app.projects.list(me)


@router.post("/projects", tags=["projects"], status_code=201)
def create_project(app: App, me: Me, body: NewProject) -> dict[str, Any]:
    return app.projects.create(me, body.name, body.description)


@router.get("/projects/{project_id}", tags=["projects"])
def get_project(app: App, me: Me, project_id: int) -> dict[str, Any]:
    return app.projects.get(me, project_id)


@router.patch("/projects/{project_id}", tags=["projects"])
def update_project(app: App, me: Me, project_id: int, body: ProjectChange) -> dict[str, Any]:
    return app.projects.update(me, project_id, body.model_dump(exclude_unset=True))


@router.delete("/projects/{project_id}", tags=["projects"], status_code=204)
def delete_project(app: App, me: Me, project_id: int) -> Response:
    """Soft delete (restorable); refused (409) while the project has live tasks."""
    app.projects.delete(me, project_id)
    return Response(status_code=204)


@router.post("/projects/{project_id}/restore", tags=["projects"])
def restore_project(app: App, me: Me, project_id: int) -> dict[str, Any]:
    return app.projects.restore(me, project_id)


@router.get("/tasks", tags=["tasks"])
def board(
    app: App,
    me: Me,
    status: Status | None = None,
    project_id: int | None = None,
    assignee_id: int | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> Rows:
    """The task board: live tasks by status, then priority (1 first)."""
    return app.tasks.board(
        me, status=status, project_id=project_id, assignee_id=assignee_id, limit=limit
    )


@router.post("/tasks", tags=["tasks"], status_code=201)
def create_task(app: App, me: Me, body: NewTask) -> dict[str, Any]:
    return app.tasks.create(me, **body.model_dump())


@router.get("/tasks/search", tags=["tasks"])
def search_tasks(
    app: App,
    me: Me,
    q: str = Query(min_length=1),
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0),
) -> Rows:
    """Full-text search of titles and descriptions (a title typo falls back to similarity)."""
    return app.tasks.search(me, q, limit=limit, offset=offset)


@router.get("/tasks/{task_id}", tags=["tasks"])
def get_task(app: App, me: Me, task_id: int) -> dict[str, Any]:
    return app.tasks.get(me, task_id)


@router.patch("/tasks/{task_id}", tags=["tasks"])
def update_task(app: App, me: Me, task_id: int, body: TaskChange) -> dict[str, Any]:
    """Change a task; ``status: done`` is refused (409) while a task it depends on is open."""
    return app.tasks.update(me, task_id, body.model_dump(exclude_unset=True))


@router.delete("/tasks/{task_id}", tags=["tasks"], status_code=204)
def delete_task(app: App, me: Me, task_id: int) -> Response:
    app.tasks.delete(me, task_id)
    return Response(status_code=204)


@router.post("/tasks/{task_id}/restore", tags=["tasks"])
def restore_task(app: App, me: Me, task_id: int) -> dict[str, Any]:
    return app.tasks.restore(me, task_id)


@router.get("/tasks/{task_id}/history", tags=["tasks"])
def task_history(app: App, me: Me, task_id: int) -> Rows:
    """Every version of the task: who changed it, when, why, its values then."""
    return app.tasks.history(me, task_id)


@router.post("/tasks/{task_id}/dependencies", tags=["dependencies"], status_code=201)
def add_dependency(app: App, me: Me, task_id: int, body: NewDependency) -> dict[str, Any]:
    """``task_id`` waits on ``depends_on_id``. 409 when it would close a cycle (the path back
    is named) or exists; 422 for a task on itself; 404 for a task not of the organization."""
    return app.dependencies.add(me, task_id, body.depends_on_id)


@router.delete(
    "/tasks/{task_id}/dependencies/{depends_on_id}", tags=["dependencies"], status_code=204
)
def remove_dependency(app: App, me: Me, task_id: int, depends_on_id: int) -> Response:
    app.dependencies.remove(me, task_id, depends_on_id)
    return Response(status_code=204)


@router.get("/tasks/{task_id}/blockers", tags=["dependencies"])
def blockers(app: App, me: Me, task_id: int, all: bool = False) -> Rows:
    """What blocks the task: every task it waits on, directly or not (open ones; ``all``:
    done and cancelled too)."""
    return app.dependencies.blockers(me, task_id, open_only=not all)


@router.get("/tasks/{task_id}/unblocks", tags=["dependencies"])
def unblocks(app: App, me: Me, task_id: int, all: bool = False) -> Rows:
    """What finishing the task unblocks: every task waiting on it, directly or not."""
    return app.dependencies.unblocks(me, task_id, open_only=not all)
