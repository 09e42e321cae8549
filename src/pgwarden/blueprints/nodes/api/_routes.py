"""The nodes routes: nodes, relationships, traversal, search, history / as-of / revert,
usage events and analytics. Plain ``def`` routes: the services are synchronous (psycopg
pool); FastAPI runs them on its thread pool, sized to the database pool in create_app."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from pgwarden.blueprints.nodes.api import _models as m
from pgwarden.blueprints.nodes.api._auth import verify
from pgwarden.blueprints.nodes.services import Nodes

router = APIRouter()


def app_of(request: Request) -> Nodes:
    nodes: Nodes = request.app.state.nodes
    return nodes


def caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> uuid.UUID:
    """The user the bearer token names (401 otherwise)."""
    return verify(request.app.state.token_key, authorization)


Me = Annotated[uuid.UUID, Depends(caller)]
Kind = Literal["node", "relationship"]


@router.post("/nodes", status_code=201, response_model=m.Node, tags=["nodes"])
def create_node(request: Request, me: Me, body: m.NewNode) -> dict[str, Any]:
    return app_of(request).graph.create_node(me, body.model_dump())


@router.get("/nodes", response_model=list[m.Node], tags=["nodes"])
def list_nodes(
    request: Request, me: Me, type: str | None = None, limit: Annotated[int, Query(le=500)] = 50
) -> list[dict[str, Any]]:
    """Your live nodes (of one feature ``type``), newest first."""
    return app_of(request).graph.nodes(me, type=type, limit=limit)


@router.get("/nodes/{node_id}", response_model=m.Node, tags=["nodes"])
def get_node(request: Request, me: Me, node_id: uuid.UUID) -> dict[str, Any]:
    """The node with its live relationships, both ways."""
    return app_of(request).graph.node(me, node_id)


@router.patch("/nodes/{node_id}", response_model=m.Node, tags=["nodes"])
def update_node(request: Request, me: Me, node_id: uuid.UUID, body: m.NodeChange) -> dict[str, Any]:
    return app_of(request).graph.update_node(me, node_id, body.model_dump(exclude_unset=True))


@router.delete("/nodes/{node_id}", response_model=m.Deleted, tags=["nodes"])
def delete_node(request: Request, me: Me, node_id: uuid.UUID) -> dict[str, Any]:
    """Soft-delete the node and its live relationships (restorable together)."""
    return {"relationships_deleted": app_of(request).graph.delete_node(me, node_id)}


@router.post("/nodes/{node_id}/restore", response_model=m.Node, tags=["nodes"])
def restore_node(request: Request, me: Me, node_id: uuid.UUID) -> dict[str, Any]:
    """Bring the node back with exactly the relationships its delete took."""
    return app_of(request).graph.restore_node(me, node_id)


@router.get("/nodes/{node_id}/traverse", response_model=list[m.Reached], tags=["nodes"])
def traverse(
    request: Request,
    me: Me,
    node_id: uuid.UUID,
    depth: Annotated[int, Query(ge=1, le=6)] = 2,
    type: str | None = None,
) -> list[dict[str, Any]]:
    """Nodes reachable along outgoing relationships (of one type) within ``depth`` hops."""
    return app_of(request).graph.traverse(me, node_id, depth=depth, relationship_type=type)


@router.post("/nodes/{node_id}/revert", response_model=dict[str, Any], tags=["history"])
def revert(request: Request, me: Me, node_id: uuid.UUID, body: m.Revert) -> dict[str, Any]:
    """Put the node's fields back as they were in ``version`` (a new version itself)."""
    return app_of(request).insight.revert(me, node_id, body.version)


@router.post("/relationships", status_code=201, response_model=m.Relationship, tags=["nodes"])
def link(request: Request, me: Me, body: m.NewRelationship) -> dict[str, Any]:
    return app_of(request).graph.link(
        me, body.source_node_id, body.target_node_id, body.relationship_type, body.metadata
    )


@router.delete("/relationships/{relationship_id}", status_code=204, tags=["nodes"])
def unlink(request: Request, me: Me, relationship_id: uuid.UUID) -> Response:
    app_of(request).graph.unlink(me, relationship_id)
    return Response(status_code=204)


@router.post(
    "/relationships/{relationship_id}/restore", response_model=m.Relationship, tags=["nodes"]
)
def restore_relationship(request: Request, me: Me, relationship_id: uuid.UUID) -> dict[str, Any]:
    return app_of(request).graph.restore_relationship(me, relationship_id)


@router.get("/{kind}s/{key}/history", response_model=list[m.Version], tags=["history"])
def history(request: Request, me: Me, kind: Kind, key: uuid.UUID) -> list[dict[str, Any]]:
    """Every version of a node or relationship: values, operation, who, why."""
    return app_of(request).insight.history(me, kind, key)


@router.get("/{kind}s/{key}/as-of", response_model=dict[str, Any], tags=["history"])
def as_of(request: Request, me: Me, kind: Kind, key: uuid.UUID, at: dt.datetime) -> dict[str, Any]:
    """The node or relationship as it was at ``at``."""
    return app_of(request).insight.as_of(me, kind, key, at)


@router.get("/search", response_model=list[m.Hit], tags=["search"])
def search(
    request: Request, me: Me, q: str, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> list[dict[str, Any]]:
    """Your nodes matching ``q`` (name counts most, then description, then metadata), with
    highlights; typos fall back to the most similar names (``fuzzy``)."""
    return app_of(request).insight.search(me, q, limit=limit)


@router.post("/events", status_code=201, tags=["analytics"])
def record(request: Request, me: Me, body: m.NewEvent) -> dict[str, Any]:
    """One usage event (the seed's feature usage analytics)."""
    return app_of(request).insight.record(
        me, body.feature, body.action, node_id=body.node_id, metadata=body.metadata
    )


@router.get("/analytics/{view}", tags=["analytics"])
def analytics(
    request: Request,
    me: Me,
    view: Literal["usage", "features", "cross-feature"],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """A rollup of your events or graph, as of its last refresh (every 5 minutes)."""
    return app_of(request).insight.analytics(me, view, limit=limit)
