"""Routes of the organization, events and webhooks, analytics, prompts, learning and
codebase analysis."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request

from pgwarden.blueprints.workspace.api._deps import (
    App,
    EventBatch,
    Me,
    NewAnalysis,
    NewEvaluation,
    NewModel,
    NewPrompt,
    NewRepository,
    NewUser,
    SignUp,
)
from pgwarden.blueprints.workspace.services import Event, Invalid, from_webhook

router = APIRouter()
Rows = list[dict[str, Any]]


@router.post("/organizations", tags=["organization"], status_code=201)
def sign_up(app: App, body: SignUp) -> dict[str, Any]:
    """A new organization, its owner, and the owner's bearer token (shown once)."""
    org, user, token = app.orgs.create(
        body.name, body.slug, body.owner_email, body.owner_name, tier=body.tier
    )
    return {"organization": org, "user": user, "token": token}


@router.get("/organization", tags=["organization"])
def organization(app: App, me: Me) -> dict[str, Any]:
    return app.orgs.get(me)


@router.get("/users", tags=["organization"])
def users(app: App, me: Me) -> Rows:
    return app.orgs.users(me)


@router.post("/users", tags=["organization"], status_code=201)
def add_user(app: App, me: Me, body: NewUser) -> dict[str, Any]:
    """A new user and their token (owners and admins only)."""
    user, token = app.orgs.add_user(me, body.email, body.full_name, body.role)
    return {"user": user, "token": token}


@router.post("/webhooks/{source}", tags=["events"], status_code=202)
async def webhook(app: App, me: Me, source: str, request: Request) -> dict[str, Any]:
    """A webhook delivery from Linear, GitHub or Slack, as each sends it; stored once
    however often it is delivered (``stored`` says whether this delivery was new)."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise Invalid("the body is not JSON") from None
    if not isinstance(body, dict):
        raise Invalid("the body is not a JSON object")
    event = from_webhook(source, body, dict(request.headers), dt.datetime.now(dt.UTC))
    done = await anyio.to_thread.run_sync(lambda: app.events.ingest(me, [event]))
    return {
        "source": event.source,
        "external_id": event.external_id,
        "event_type": event.event_type,
        "stored": done.stored == 1,
    }


@router.post("/events", tags=["events"])
def ingest(app: App, me: Me, body: EventBatch) -> dict[str, int]:
    """Normalized events in bulk (up to 10,000 a request), each (source, id) stored once."""
    events = [Event(**e.model_dump()) for e in body.events]
    done = app.events.ingest(me, events)
    return {"received": done.received, "stored": done.stored, "duplicates": done.duplicates}


@router.get("/events", tags=["events"])
def recent_events(
    app: App, me: Me, source: str | None = None, limit: int = Query(50, ge=1, le=500)
) -> Rows:
    return app.events.recent(me, source=source, limit=limit)


@router.get("/analytics/tasks", tags=["analytics"])
def task_days(app: App, me: Me, start: dt.date, end: dt.date, live: bool = False) -> Rows:
    """Per day: tasks created, done, minutes, timed. From the materialized view (as of its
    last refresh), or ``live``."""
    return app.analytics.task_days(me, start, end, live=live)


@router.get("/analytics/events", tags=["analytics"])
def event_days(app: App, me: Me, start: dt.date, end: dt.date, live: bool = False) -> Rows:
    return app.analytics.event_days(me, start, end, live=live)


@router.post("/prompts", tags=["prompts"], status_code=201)
def save_prompt(app: App, me: Me, body: NewPrompt) -> dict[str, Any]:
    """The prompt's next version (1 when new)."""
    return app.prompts.save(me, body.name, body.content, variables=body.variables, tags=body.tags)


@router.get("/prompts/search", tags=["prompts"])
def search_prompts(app: App, me: Me, q: str = Query(min_length=1)) -> Rows:
    return app.prompts.search(me, q)


@router.get("/prompts/{name}", tags=["prompts"])
def latest_prompt(app: App, me: Me, name: str) -> dict[str, Any]:
    return app.prompts.latest(me, name)


@router.get("/prompts/{name}/versions", tags=["prompts"])
def prompt_versions(app: App, me: Me, name: str) -> Rows:
    return app.prompts.versions(me, name)


@router.post("/models", tags=["learning"], status_code=201)
def register_model(app: App, me: Me, body: NewModel) -> dict[str, Any]:
    return app.insights.register_model(
        me,
        body.name,
        body.model_type,
        body.algorithm,
        accuracy=body.accuracy,
        target_modules=body.target_modules,
    )


@router.get("/models", tags=["learning"])
def models(app: App, me: Me) -> Rows:
    return app.insights.models(me)


@router.post("/evaluations", tags=["learning"], status_code=201)
def record_evaluation(app: App, me: Me, body: NewEvaluation) -> dict[str, Any]:
    return app.insights.record_evaluation(
        me,
        body.evaluation_type,
        population_size=body.population_size,
        generations=body.generations,
        best_solution=body.best_solution,
    )


@router.post("/repositories", tags=["codebase"], status_code=201)
def add_repository(app: App, me: Me, body: NewRepository) -> dict[str, Any]:
    return app.insights.add_repository(me, body.name, body.url)


@router.post("/repositories/{repository_id}/analyses", tags=["codebase"], status_code=201)
def record_analysis(app: App, me: Me, repository_id: int, body: NewAnalysis) -> dict[str, Any]:
    return app.insights.record_analysis(
        me, repository_id, body.commit_sha, quality_score=body.quality_score, summary=body.summary
    )


@router.get("/repositories/{repository_id}/trend", tags=["codebase"])
def quality_trend(app: App, me: Me, repository_id: int, last: int = 20) -> Rows:
    """The latest analysis runs, oldest first, with the change in quality since the last."""
    return app.insights.quality_trend(me, repository_id, last=last)
