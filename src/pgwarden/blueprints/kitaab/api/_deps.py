"""Shared pieces of the HTTP API: the service object, token authentication, request models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from pgwarden.blueprints.kitaab.services import Kitaab, Unauthorized

bearer = HTTPBearer(auto_error=False, description="the token POST /auth/login returns")


# Dependencies that do no blocking work are ``async def``: FastAPI runs a plain ``def``
# dependency through the thread pool, a hop that costs more than the work.
async def kitaab(request: Request) -> Kitaab:
    app: Kitaab = request.app.state.kitaab
    return app


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> int:
    # On the event loop with its own asyncio pool: a sync dependency would cost every request
    # a second hop through the thread pool.
    if credentials is None:
        raise Unauthorized("send 'Authorization: Bearer <token>' (POST /auth/login gives one)")
    pool: AsyncConnectionPool[Any] = request.app.state.auth_pool
    app: Kitaab = request.app.state.kitaab
    return await app.users.authenticate_async(pool, credentials.credentials)


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    if credentials is None:
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    return credentials.credentials


App = Annotated[Kitaab, Depends(kitaab)]
User = Annotated[int, Depends(current_user)]
Bearer = Annotated[str, Depends(bearer_token)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Register(Body):
    email: str = Field(max_length=255)
    password: str = Field(min_length=8, max_length=256)
    full_name: str = Field(max_length=255)
    timezone: str = "UTC"


class Token(Body):
    token: str


class Login(Body):
    email: str
    password: str


class Preferences(Body):
    full_name: str | None = Field(default=None, max_length=255)
    timezone: str | None = None
    language: str | None = Field(default=None, max_length=10)
    theme: str | None = None
    week_start: int | None = None


class NewDeed(Body):
    name: str = Field(max_length=255)
    category_type: Literal["hasanaat", "saiyyiaat"]
    description: str | None = None


class NewItem(Body):
    name: str = Field(max_length=255)
    parent_deed_item_id: int | None = None
    display_order: int = 0
    description: str | None = None


class OnboardItem(Body):
    name: str = Field(max_length=255)
    parent: int | None = Field(default=None, description="index of an earlier item")
    display_order: int | None = None
    description: str | None = None


class NewScale(Body):
    name: str = Field(max_length=255)
    values: list[str] = Field(min_length=1)


class Onboarding(Body):
    deed: NewDeed
    items: list[OnboardItem] = []
    scale: NewScale | None = None
    preferences: Preferences = Preferences()


class ItemChange(Body):
    parent_deed_item_id: int | None = None
    move: bool = Field(default=False, description="true: set parent_deed_item_id (null: top)")
    is_active: bool | None = None


class EntryIn(Body):
    deed_item_id: int
    entry_date: dt.date
    count_value: Decimal | None = Field(default=None, max_digits=10, decimal_places=2)
    scale_value_id: int | None = None
    notes: str | None = None


class EntryChange(Body):
    count_value: Decimal | None = Field(default=None, max_digits=10, decimal_places=2)
    scale_value_id: int | None = None
    notes: str | None = None


class ConnectionRequest(Body):
    email: str


class Grant(Body):
    deed_item_id: int
    permission_type: Literal["read", "write"]


class GoalItem(Body):
    deed_item_id: int
    target_value: Decimal = Field(max_digits=10, decimal_places=2)
    scale_value_id: int | None = None


class NewGoal(Body):
    name: str = Field(max_length=255)
    completion_type: Literal["and", "or"] = "and"
    start_date: dt.date
    end_date: dt.date
    items: list[GoalItem] = Field(min_length=1)


class NewMerit(NewGoal):
    deed_id: int


class NewReflection(Body):
    reflection_date: dt.date
    type: Literal["daily", "hasanaat", "saiyyiaat"] = "daily"
    content: str


class ReflectionChange(Body):
    content: str


class NewMessage(Body):
    content: str
    subject: str | None = Field(default=None, max_length=255)


class Reminder(Body):
    time: dt.time = Field(description="local time of day, in the user's time zone")


def fields(model: BaseModel) -> dict[str, Any]:
    """The fields the client actually sent."""
    return model.model_dump(exclude_unset=True)
