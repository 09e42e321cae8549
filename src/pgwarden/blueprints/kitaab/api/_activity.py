"""Routes: entries and their history, connections and permissions, merits and targets,
reflections, messages, reminders, the dashboard and the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request, Response, status

from pgwarden.blueprints.kitaab.api import _models as models
from pgwarden.blueprints.kitaab.api._deps import (
    App,
    Bearer,
    ConnectionRequest,
    EntryChange,
    EntryIn,
    Grant,
    NewGoal,
    NewMerit,
    NewMessage,
    NewReflection,
    ReflectionChange,
    Reminder,
    User,
    fields,
)
from pgwarden.blueprints.kitaab.services import Row

router = APIRouter()


@router.put(
    "/entries",
    tags=["entries"],
    status_code=status.HTTP_200_OK,
    response_model=models.Entry,
    responses={
        status.HTTP_200_OK: {"description": "The day's entry was replaced"},
        status.HTTP_201_CREATED: {"model": models.Entry, "description": "Created"},
    },
)
async def record_entry(
    body: EntryIn, app: App, token: Bearer, request: Request, response: Response
) -> Row:
    """Create or replace the day's entry of a deed item (201 created, 200 replaced). On
    another user's item (write permission) the entry is the owner's, with the caller as
    ``created_by_user_id``."""
    # The token is checked in the write's own transaction (one round trip fewer), not by
    # the User dependency.
    entry, created = await app.entries.record_async(
        request.app.state.session_pool,
        token,
        body.deed_item_id,
        body.entry_date,
        count_value=body.count_value,
        scale_value_id=body.scale_value_id,
        notes=body.notes,
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return entry


@router.get("/entries", tags=["entries"], response_model=list[models.Entry])
def list_entries(
    app: App,
    user: User,
    owner_id: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int = 500,
) -> list[Row]:
    """Your entries, or ``owner_id``'s on the items you may read."""
    return app.entries.list_for(user, owner_id, since, until, min(max(limit, 1), 5000))


@router.get("/entries/{entry_id}", tags=["entries"], response_model=models.Entry)
def get_entry(entry_id: int, app: App, user: User) -> Row:
    return app.entries.get(user, entry_id)


@router.patch("/entries/{entry_id}", tags=["entries"], response_model=models.Entry)
def edit_entry(entry_id: int, body: EntryChange, app: App, user: User) -> Row:
    return app.entries.update(user, entry_id, fields(body))


@router.delete("/entries/{entry_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["entries"])
def delete_entry(entry_id: int, app: App, user: User) -> None:
    app.entries.delete(user, entry_id)


@router.get(
    "/entries/{entry_id}/history", tags=["entries"], response_model=list[models.EntryVersion]
)
def entry_history(entry_id: int, app: App, user: User) -> list[Row]:
    """Every version of the entry (the seed's entry_history), from pgwarden's audit trail."""
    return app.entries.history(user, entry_id)


@router.post(
    "/connections",
    status_code=status.HTTP_201_CREATED,
    tags=["connections"],
    response_model=models.Connection,
)
def request_connection(body: ConnectionRequest, app: App, user: User) -> Row:
    return app.social.request(user, body.email)


@router.get("/connections", tags=["connections"], response_model=list[models.Connection])
def connections(app: App, user: User) -> list[Row]:
    return app.social.relations(user)


@router.post(
    "/connections/{relation_id}/accept", tags=["connections"], response_model=models.Connection
)
def accept(relation_id: int, app: App, user: User) -> Row:
    return app.social.respond(user, relation_id, True)


@router.post(
    "/connections/{relation_id}/reject", tags=["connections"], response_model=models.Connection
)
def reject(relation_id: int, app: App, user: User) -> Row:
    return app.social.respond(user, relation_id, False)


@router.delete(
    "/connections/{relation_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["connections"]
)
def remove_connection(relation_id: int, app: App, user: User) -> None:
    app.social.remove(user, relation_id)


@router.put(
    "/connections/{relation_id}/permissions", tags=["connections"], response_model=models.Permission
)
def grant(relation_id: int, body: Grant, app: App, user: User) -> Row:
    """The requestee lets the requester read or write one of their deed items."""
    return app.social.grant(user, relation_id, body.deed_item_id, body.permission_type)


@router.get("/permissions", tags=["connections"], response_model=list[models.PermissionListed])
def permissions(app: App, user: User) -> list[Row]:
    return app.social.permissions(user)


@router.delete(
    "/permissions/{permission_id}", tags=["connections"], response_model=models.Permission
)
def revoke(permission_id: int, app: App, user: User) -> Row:
    """Revoked at once (the permission's versions keep the history)."""
    return app.social.revoke(user, permission_id)


@router.post(
    "/merits", status_code=status.HTTP_201_CREATED, tags=["progress"], response_model=models.Merit
)
def create_merit(body: NewMerit, app: App, user: User) -> Row:
    return app.progress.create(
        "merit", user, body.name, body.start_date, body.end_date,
        [i.model_dump() for i in body.items], body.completion_type, body.deed_id,
    )  # fmt: skip


@router.get("/merits/{merit_id}", tags=["progress"], response_model=models.Merit)
def merit(merit_id: int, app: App, user: User) -> Row:
    return app.progress.progress("merit", user, merit_id)


@router.post(
    "/targets", status_code=status.HTTP_201_CREATED, tags=["progress"], response_model=models.Target
)
def create_target(body: NewGoal, app: App, user: User) -> Row:
    return app.progress.create(
        "target", user, body.name, body.start_date, body.end_date,
        [i.model_dump() for i in body.items], body.completion_type,
    )  # fmt: skip


@router.get("/targets/{target_id}", tags=["progress"], response_model=models.Target)
def target(target_id: int, app: App, user: User) -> Row:
    return app.progress.progress("target", user, target_id)


@router.post("/progress/refresh", tags=["progress"], response_model=models.ProgressCheck)
def refresh(app: App, user: User) -> dict[str, list[Row]]:
    """Check every active merit and target (what the scheduled job does)."""
    return app.progress.refresh(user)


@router.post(
    "/reflections",
    status_code=status.HTTP_201_CREATED,
    tags=["reflections"],
    response_model=models.Reflection,
)
def write_reflection(body: NewReflection, app: App, user: User) -> Row:
    return app.reflections.write(user, body.reflection_date, body.content, body.type)


@router.patch(
    "/reflections/{reflection_id}", tags=["reflections"], response_model=models.Reflection
)
def edit_reflection(reflection_id: int, body: ReflectionChange, app: App, user: User) -> Row:
    return app.reflections.edit(user, reflection_id, body.content)


@router.get("/reflections", tags=["reflections"], response_model=list[models.Reflection])
def reflections(app: App, user: User, since: dt.date | None = None) -> list[Row]:
    return app.reflections.list(user, since)


@router.post(
    "/messages",
    status_code=status.HTTP_201_CREATED,
    tags=["messages"],
    response_model=models.Message,
)
def send_message(body: NewMessage, app: App, user: User) -> Row:
    return app.messages.send(user, body.content, body.subject)


@router.get("/messages", tags=["messages"], response_model=list[models.Message])
def messages(app: App, user: User) -> list[Row]:
    return app.messages.list(user)


@router.put("/reminder", tags=["reminders"], response_model=models.Notification)
def set_reminder(body: Reminder, app: App, user: User) -> Row:
    """Daily reminder at a local time of your time zone (once per local day)."""
    return app.reminders.set(user, body.time)


@router.delete("/reminder", status_code=status.HTTP_204_NO_CONTENT, tags=["reminders"])
def disable_reminder(app: App, user: User) -> None:
    app.reminders.disable(user)


@router.get("/dashboard", tags=["dashboard"], response_model=models.Dashboard)
def dashboard(app: App, user: User, days: int = 30) -> Row:
    """The last ``days`` days (default 30) up to your local today, by category."""
    return app.dashboard.summary(user, days=min(max(days, 1), 366))


@router.get("/audit", tags=["audit"], response_model=list[models.AuditEvent])
def audit(app: App, user: User, limit: int = 100) -> list[dict[str, Any]]:
    """Your recorded changes, newest first (pgwarden's audit trail)."""
    return app.audit.mine(user, min(max(limit, 1), 1000))
