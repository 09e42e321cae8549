"""Response models: what every route answers, field by field, as OpenAPI documents it.

The fields are the services' column lists, in their order (the JSON keeps its key order).
Numerics (``numeric(10,2)``) are floats (the services' ``plain()``), dates and times ISO 8601
strings, nullable columns optional. The models forbid unknown keys: a key a service adds
without its model here fails the request (500) instead of being dropped or sent
undocumented, and the tests, which drive every route, catch it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

Category = Literal["hasanaat", "saiyyiaat"]
CompletionType = Literal["and", "or"]
Measure = Literal["count", "scale"]
PermissionType = Literal["read", "write"]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=False, extra="forbid")


class Health(Out):
    """pgwarden's readiness of the database (503 when not ``ok``)."""

    status: Literal["ok", "unavailable"]
    role: Literal["primary", "replica"] | None = None
    reasons: list[str] = []


class Problem(Out):
    """A refused request: ``error`` is a stable code, ``detail`` the broken rule in words."""

    error: Literal["invalid", "unauthorized", "forbidden", "not-found", "conflict"]
    detail: str


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": description}
    for status, description in (
        (401, "Missing, unknown or expired bearer token (`unauthorized`)"),
        (403, "Not yours, and no permission for it (`forbidden`)"),
        (404, "Not found, or not visible to you (`not-found`)"),
        (409, "Breaks a uniqueness or state rule (`conflict`)"),
    )
}
"""The refusals every route may answer with, documented once for OpenAPI. A broken rule of
the data answers 422 with the same body; FastAPI's own 422 (a malformed request) keeps its
``{"detail": [...]}`` shape."""


# -- account -----------------------------------------------------------------------------------


class Account(Out):
    """A user with their preferences (never the password hash or verification token)."""

    user_id: int
    email: str
    full_name: str
    email_verified: bool
    is_active: bool
    timezone: str = Field(description="an IANA time zone, e.g. Europe/Berlin")
    language: str
    theme: Literal["light", "dark", "system"]
    week_start: int = Field(ge=0, le=6, description="0 = Sunday")
    onboarded_at: dt.datetime | None
    created_at: dt.datetime


class Registration(Out):
    user: Account
    verification_token: str = Field(description="what the verification email would carry")


class BearerToken(Out):
    token: str = Field(description="send as 'Authorization: Bearer <token>' (30 days)")
    token_type: Literal["bearer"]
    user: Account


# -- deeds, items, scales ----------------------------------------------------------------------


class DeedSummary(Out):
    """A deed as ``GET /deeds`` lists it."""

    deed_id: int
    name: str
    description: str | None
    category_type: Category
    is_active: bool
    display_order: int


class Deed(Out):
    """A deed with its owner."""

    deed_id: int
    user_id: int
    name: str
    description: str | None
    category_type: Category
    is_active: bool
    display_order: int


class DeedItem(Out):
    deed_item_id: int
    deed_id: int
    parent_deed_item_id: int | None = Field(description="null: a top-level item")
    name: str
    description: str | None
    level: int = Field(ge=1, le=5, description="1 at the top, parent's level + 1 below")
    display_order: int
    is_active: bool


class ScaleValue(Out):
    scale_value_id: int
    value_name: str
    value_order: int


class ScaleSummary(Out):
    """A version of a deed's scale, as ``GET /deeds/{deed_id}/scales`` lists it."""

    scale_id: int
    name: str
    scale_version: int
    is_active: bool = Field(description="one active version per deed")
    values: list[ScaleValue]


class Scale(Out):
    """A new scale version with its deed."""

    scale_id: int
    deed_id: int
    name: str
    scale_version: int
    is_active: bool
    values: list[ScaleValue]


class OnboardedDeed(Deed):
    """The first deed with the items and (when one was given) the scale made with it."""

    items: list[DeedItem]
    scale: Scale | SkipJsonSchema[None] = Field(
        default=None, description="absent when no scale was given"
    )


class ItemAccess(Out):
    deed_item_id: int
    access: Literal["owner", "write", "read"] | None = Field(description="null: none")


# -- entries -----------------------------------------------------------------------------------


class Entry(Out):
    entry_id: int
    user_id: int = Field(description="the owner of the deed item")
    deed_item_id: int
    entry_date: dt.date
    created_by_user_id: int | None = Field(description="who wrote it (the owner or a writer)")
    scale_id: int | None
    scale_value_id: int | None
    count_value: float | None
    notes: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class EntryVersion(Out):
    """One version of an entry, from pgwarden's audit trail."""

    version: int = Field(description="1 is the insert; 0, when present, predates auditing")
    op: str = Field(description="insert, update, delete, or existing (version 0)")
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None = Field(description="null: the current version")
    actor: str | None = Field(description="user:<id> of whoever wrote it")
    reason: str | None
    changed: list[str] | None = Field(description="columns changed by an update")
    row: dict[str, Any] | None = Field(
        description="the entry's columns in this version, as JSON (null once deleted)"
    )


# -- connections and permissions ---------------------------------------------------------------


class Connection(Out):
    """A relation: the requester may see what the requestee grants, once accepted."""

    relation_id: int
    requester_id: int
    requestee_id: int
    status: Literal["pending", "accepted", "rejected"]
    responded_at: dt.datetime | None
    created_at: dt.datetime


class Permission(Out):
    permission_id: int
    relation_id: int
    deed_item_id: int
    permission_type: PermissionType
    is_active: bool = Field(description="false once revoked")


class PermissionListed(Permission):
    """A permission with both users, as ``GET /permissions`` lists it."""

    grantee_id: int = Field(description="the relation's requester")
    owner_id: int = Field(description="the relation's requestee, the item's owner")


# -- merits and targets ------------------------------------------------------------------------


class GoalItemProgress(Out):
    item_id: int = Field(description="merit_item_id or target_item_id")
    deed_item_id: int
    measure: Measure = Field(description="count: sums count_value; scale: counts entries")
    scale_value_id: int | None
    target_value: float
    achieved: float
    complete: bool


class MeritProgress(Out):
    merit_id: int
    completion_type: CompletionType
    completed_at: dt.datetime | None
    items: list[GoalItemProgress]
    complete: bool


class Merit(MeritProgress):
    name: str


class TargetProgress(Out):
    target_id: int
    completion_type: CompletionType
    completed_at: dt.datetime | None
    items: list[GoalItemProgress]
    complete: bool


class Target(TargetProgress):
    name: str


class ProgressCheck(Out):
    """Every active, unfinished merit and target of the caller."""

    merits: list[MeritProgress]
    targets: list[TargetProgress]


# -- reflections, messages, reminders ----------------------------------------------------------


class Reflection(Out):
    reflection_id: int
    user_id: int
    reflection_date: dt.date
    type: Literal["daily", "hasanaat", "saiyyiaat"]
    content: str
    created_at: dt.datetime
    updated_at: dt.datetime


class Message(Out):
    message_id: int
    user_id: int
    sender: Literal["user", "support"]
    subject: str | None
    content: str
    is_read: bool
    created_at: dt.datetime


class Notification(Out):
    """The daily reminder."""

    notification_id: int
    user_id: int
    notification_time: dt.time = Field(description="local time, in the user's time zone")
    is_active: bool
    next_due_at: dt.datetime | None
    last_sent_on: dt.date | None = Field(description="the user's local date")


# -- dashboard and audit -----------------------------------------------------------------------


class CategoryTotals(Out):
    entries: int
    total_count: float = Field(description="sum of count_value")
    scale_entries: int
    active_days: int
    average_per_day: float = Field(description="total_count / days, rounded to 0.01")


class DashboardTotals(Out):
    hasanaat: CategoryTotals
    saiyyiaat: CategoryTotals


class DashboardPoint(Out):
    entry_date: dt.date
    category: Category
    entries: int
    total_count: float
    scale_entries: int


class Dashboard(Out):
    since: dt.date
    until: dt.date = Field(description="the user's local today")
    days: int
    totals: DashboardTotals
    series: list[DashboardPoint] = Field(description="per day and category, days with entries")


class AuditEvent(Out):
    event_id: int
    at: dt.datetime
    table: str = Field(description="schema.table")
    op: Literal["insert", "update", "delete", "truncate"]
    key: list[Any] | dict[str, Any] | None = Field(
        description="the row's key values (the row, for a table without a key)"
    )
    changed: list[str] | None = Field(description="columns an update changed")
    old: dict[str, Any] | None = Field(description="the row before, as JSON")
    new: dict[str, Any] | None = Field(description="the row after, as JSON")
    reason: str | None
