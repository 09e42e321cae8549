"""The API's request and response bodies (OpenAPI at ``/docs``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Problem(BaseModel):
    error: str
    detail: str


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem} for status in (401, 404, 409, 422)
}


class NewNode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(examples=["event-storm"], description="The feature the node belongs to.")
    name: str
    node_type: str = "node"
    description: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    position_x: float | None = None
    position_y: float | None = None


class NodeChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str | None = None
    name: str | None = None
    node_type: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    position_x: float | None = None
    position_y: float | None = None


class Neighbour(BaseModel):
    relationship_id: uuid.UUID
    relationship_type: str
    direction: Literal["in", "out"]
    node_id: uuid.UUID
    type: str
    name: str


class Node(BaseModel):
    node_id: uuid.UUID
    owner_id: uuid.UUID
    type: str
    node_type: str
    name: str
    description: str
    metadata: dict[str, Any]
    position_x: float | None
    position_y: float | None
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None
    neighbours: list[Neighbour] | None = None
    relationships_restored: int | None = None


class Reached(BaseModel):
    node_id: uuid.UUID
    type: str
    name: str
    depth: int


class NewRelationship(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_node_id: uuid.UUID
    target_node_id: uuid.UUID
    relationship_type: str = Field(
        examples=["depends_on"], description="parent and depends_on stay acyclic; related not"
    )
    metadata: dict[str, Any] = Field(default_factory=dict)


class Relationship(BaseModel):
    relationship_id: uuid.UUID
    owner_id: uuid.UUID
    source_node_id: uuid.UUID
    target_node_id: uuid.UUID
    relationship_type: str
    metadata: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None


class Hit(Node):
    rank: float
    headline: str
    fuzzy: bool


class Version(BaseModel):
    version: int
    op: str
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None
    actor: str | None
    reason: str | None
    changed: list[str] | None
    row: dict[str, Any] | None


class Revert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=0)


class NewEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str
    action: str = Field(examples=["view"])
    node_id: uuid.UUID | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Deleted(BaseModel):
    relationships_deleted: int
