"""Shared pieces of the HTTP API: the service object, the caller from the bearer token, and
the request models (unknown fields are refused: an ``organization_id`` in a body is a 422,
never a way to write into another organization)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from pgwarden.blueprints.workspace.services import Caller, Unauthorized, Workspace

bearer = HTTPBearer(auto_error=False, description="the token POST /organizations returns")


async def workspace(request: Request) -> Workspace:
    app: Workspace = request.app.state.workspace
    return app


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None:
        raise Unauthorized("send 'Authorization: Bearer <token>' (POST /organizations gives one)")
    app: Workspace = request.app.state.workspace
    return app.orgs.authenticate(credentials.credentials)


App = Annotated[Workspace, Depends(workspace)]
Me = Annotated[Caller, Depends(caller)]
Status = Literal["todo", "in_progress", "blocked", "done", "cancelled"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignUp(Body):
    name: str = Field(max_length=255)
    slug: str = Field(max_length=100)
    owner_email: str = Field(max_length=255)
    owner_name: str = Field(max_length=255)
    tier: Literal["free", "standard", "enterprise"] = "standard"


class NewUser(Body):
    email: str = Field(max_length=255)
    full_name: str = Field(max_length=255)
    role: Literal["owner", "admin", "member"] = "member"


class NewProject(Body):
    name: str = Field(max_length=255)
    description: str = ""


class ProjectChange(Body):
    name: str | None = Field(default=None, max_length=255)
    description: str | None = None
    status: Literal["active", "paused", "archived"] | None = None


class NewTask(Body):
    title: str = Field(max_length=500)
    project_id: int | None = None
    description: str = ""
    priority: int = Field(default=3, ge=1, le=5)
    task_type: str = Field(default="general", max_length=100)
    assignee_id: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    estimated_minutes: int | None = Field(default=None, ge=0)
    due_date: dt.date | None = None


class TaskChange(Body):
    title: str | None = Field(default=None, max_length=500)
    description: str | None = None
    status: Status | None = None
    priority: int | None = Field(default=None, ge=1, le=5)
    task_type: str | None = Field(default=None, max_length=100)
    assignee_id: int | None = None
    project_id: int | None = None
    metadata: dict[str, Any] | None = None
    estimated_minutes: int | None = Field(default=None, ge=0)
    actual_duration_minutes: int | None = Field(default=None, ge=0)
    quality_score: float | None = Field(default=None, ge=0, le=100)
    due_date: dt.date | None = None


class NewDependency(Body):
    depends_on_id: int


class EventIn(Body):
    source: Literal["linear", "github", "slack"]
    external_id: str = Field(min_length=1, max_length=200)
    event_type: str = Field(max_length=100)
    occurred_at: dt.datetime
    payload: dict[str, Any] = Field(default_factory=dict)
    actor: str | None = Field(default=None, max_length=255)
    task_id: int | None = None


class EventBatch(Body):
    events: list[EventIn] = Field(max_length=10_000)


class NewPrompt(Body):
    name: str = Field(max_length=255)
    content: str
    variables: list[Any] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class NewModel(Body):
    name: str = Field(max_length=255)
    model_type: str = Field(max_length=100)
    algorithm: str = Field(max_length=100)
    accuracy: float | None = None
    target_modules: list[str] = Field(default_factory=list)


class NewEvaluation(Body):
    evaluation_type: str = Field(max_length=100)
    population_size: int = 50
    generations: int = 100
    best_solution: dict[str, Any] | None = None


class NewRepository(Body):
    name: str = Field(max_length=255)
    url: str = ""


class NewAnalysis(Body):
    commit_sha: str = Field(max_length=64)
    quality_score: float | None = Field(default=None, ge=0, le=100)
    summary: dict[str, Any] = Field(default_factory=dict)


PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {
        "description": text,
        "content": {"application/json": {"example": {"error": name, "detail": "..."}}},
    }
    for code, name, text in (
        (401, "unauthorized", "No or an unknown bearer token"),
        (403, "forbidden", "The caller's role may not do this"),
        (404, "not-found", "No such row in the caller's organization"),
        (409, "conflict", "Exists already, would close a cycle, or waits on open tasks"),
        (422, "invalid", "A rule of the data was broken"),
    )
}
