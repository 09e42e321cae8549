"""Routes: registration, login, profile and preferences, onboarding, deeds, items, scales."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status

from pgwarden.blueprints.kitaab.api import _models as models
from pgwarden.blueprints.kitaab.api._deps import (
    App,
    ItemChange,
    Login,
    NewDeed,
    NewItem,
    NewScale,
    Onboarding,
    Preferences,
    Register,
    Token,
    User,
    bearer_token,
    fields,
)
from pgwarden.blueprints.kitaab.services import Invalid, Row

router = APIRouter()


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    tags=["account"],
    response_model=models.Registration,
)
def register(body: Register, app: App) -> dict[str, Any]:
    """Create an unverified account. The verification token is what the email would carry
    (returned here: this server sends no email)."""
    user, token = app.users.register(body.email, body.password, body.full_name, body.timezone)
    return {"user": user, "verification_token": token}


@router.post("/auth/verify", tags=["account"], response_model=models.Account)
def verify(body: Token, app: App) -> Row:
    return app.users.verify_email(body.token)


@router.post("/auth/login", tags=["account"], response_model=models.BearerToken)
def login(body: Login, app: App) -> dict[str, Any]:
    """A bearer token for ``Authorization: Bearer <token>`` (30 days)."""
    user, token = app.users.login(body.email, body.password)
    return {"token": token, "token_type": "bearer", "user": user}


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, tags=["account"])
def logout(app: App, user: User, token: Annotated[str, Depends(bearer_token)]) -> None:
    app.users.logout(token)


@router.get("/me", tags=["account"], response_model=models.Account)
def me(app: App, user: User) -> Row:
    return app.users.get(user)


@router.patch("/me", tags=["account"], response_model=models.Account)
def preferences(body: Preferences, app: App, user: User) -> Row:
    return app.users.update_preferences(user, fields(body))


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT, tags=["account"])
def delete_me(app: App, user: User) -> None:
    """Soft delete: the account and its deeds are hidden and can be restored."""
    app.users.delete_account(user)


@router.post(
    "/onboarding",
    status_code=status.HTTP_201_CREATED,
    tags=["account"],
    response_model=models.OnboardedDeed,
    response_model_exclude_unset=True,
)
def onboarding(body: Onboarding, app: App, user: User) -> Row:
    """First deed, its items (``parent``: index of an earlier item), its scale and the
    preferences, in one transaction."""
    return app.deeds.onboard(
        user,
        body.deed.model_dump(),
        [item.model_dump() for item in body.items],
        body.scale.model_dump() if body.scale else None,
        fields(body.preferences),
    )


@router.post(
    "/deeds", status_code=status.HTTP_201_CREATED, tags=["deeds"], response_model=models.Deed
)
def create_deed(body: NewDeed, app: App, user: User) -> Row:
    return app.deeds.create_deed(user, body.name, body.category_type, body.description)


@router.get("/deeds", tags=["deeds"], response_model=list[models.DeedSummary])
def list_deeds(app: App, user: User) -> list[Row]:
    return app.deeds.list_deeds(user)


@router.delete("/deeds/{deed_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["deeds"])
def delete_deed(deed_id: int, app: App, user: User) -> None:
    app.deeds.delete_deed(user, deed_id)


@router.get("/deeds/{deed_id}/items", tags=["deeds"], response_model=list[models.DeedItem])
def deed_tree(deed_id: int, app: App, user: User) -> list[Row]:
    """The items in hierarchy order (depth first)."""
    return app.deeds.tree(user, deed_id)


@router.post(
    "/deeds/{deed_id}/items",
    status_code=status.HTTP_201_CREATED,
    tags=["deeds"],
    response_model=models.DeedItem,
)
def add_item(deed_id: int, body: NewItem, app: App, user: User) -> Row:
    return app.deeds.add_item(
        user, deed_id, body.name, body.parent_deed_item_id, body.display_order, body.description
    )


@router.patch("/items/{deed_item_id}", tags=["deeds"], response_model=models.DeedItem)
def change_item(deed_item_id: int, body: ItemChange, app: App, user: User) -> Row:
    """Move an item (``move: true`` with ``parent_deed_item_id``) or (de)activate it."""
    result: Row | None = None
    if body.move:
        result = app.deeds.move_item(user, deed_item_id, body.parent_deed_item_id)
    if body.is_active is not None:
        result = app.deeds.set_item_active(user, deed_item_id, body.is_active)
    if result is None:
        raise Invalid("nothing to change: give move and parent_deed_item_id, or is_active")
    return result


@router.delete("/items/{deed_item_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["deeds"])
def delete_item(deed_item_id: int, app: App, user: User) -> None:
    app.deeds.delete_item(user, deed_item_id)


@router.get("/items/{deed_item_id}/access", tags=["connections"], response_model=models.ItemAccess)
def item_access(deed_item_id: int, app: App, user: User) -> dict[str, Any]:
    """What the caller may do with an item: owner, write, read or none."""
    return {"deed_item_id": deed_item_id, "access": app.social.check(user, deed_item_id)}


@router.post(
    "/deeds/{deed_id}/scales",
    status_code=status.HTTP_201_CREATED,
    tags=["deeds"],
    response_model=models.Scale,
)
def define_scale(deed_id: int, body: NewScale, app: App, user: User) -> Row:
    """A new scale version (the previous one is retired; see kitaab.scales__versions)."""
    return app.deeds.define_scale(user, deed_id, body.name, body.values)


@router.get("/deeds/{deed_id}/scales", tags=["deeds"], response_model=list[models.ScaleSummary])
def scales(deed_id: int, app: App, user: User) -> list[Row]:
    return app.deeds.scales(user, deed_id)
