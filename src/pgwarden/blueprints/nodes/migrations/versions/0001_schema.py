"""The unified node system of seed 000: nodes, node_relationships, node_events.

Revision ID: 0001
Revises:
Create Date: 2026-12-07

Only what is the application's own is written here: the tables, the seed's validation
constraints (§1.2) and the indexes its queries need (§1.1). Everything the seed hand-writes
on top (audit and version tables, soft-delete columns and views, archive tables, search
vectors, partitions, RLS policies, analytics rollups) is declared in ``pgwarden.toml`` and
built by pgwarden.

Departures from the seed, on purpose:

- ``owner_id`` is a column (the seed reads ``metadata->>'created_by'`` in its policies): a
  tenant key the policies compare with an index, that a client cannot rewrite by editing
  JSON. Nodes of one owner are unique by ``(owner_id, type, name)``: the seed's global
  ``(name, type)`` would tell one tenant another's node names by refusing them.
- An edge's ends are foreign keys on ``(owner_id, node_id)``: both ends are the edge's owner's
  nodes. A foreign-key check bypasses row-level security, so with single-column keys an edge
  could point at (and reveal the existence of) another tenant's node id.
- ``deleted_at`` and ``deleted_by`` are the schema's (the seed's §2.1 adds them; the archive
  rule and the analytics views name them), adopted by ``soft_delete``, which owns what they
  mean: the trigger that turns DELETE into a mark, the cascade, restore, live-only keys.
- ``node_events`` replaces the seed's three analytics tables: one append-only event log,
  partitioned by month; the seed's rollups (node usage, feature usage, cross-feature) are
  materialized views over it (declared).
- The seed's many ``CREATE INDEX CONCURRENTLY`` on ``type``, ``node_type``, ``created_at``,
  ``metadata`` are reduced to what the service's queries use (each index taxes every write);
  ``pgwarden doctor`` reports a missing one from pg_stat_statements.
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
create table nodes.nodes (
    node_id      uuid primary key default gen_random_uuid(),
    owner_id     uuid not null,
    type         text not null,
    node_type    text not null default 'node',
    name         text not null,
    description  text not null default '',
    metadata     jsonb not null default '{}',
    position_x   double precision,
    position_y   double precision,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    deleted_at   timestamptz,
    deleted_by   text,
    constraint nodes_owner_node_key unique (owner_id, node_id),
    constraint nodes_owner_type_name_key unique (owner_id, type, name),
    constraint nodes_name_length check (char_length(name) between 1 and 255),
    constraint nodes_description_length check (char_length(description) <= 10000),
    constraint nodes_type_format check (type ~ '^[a-z][a-z0-9-]{0,49}$'),
    constraint nodes_node_type_format check (node_type ~ '^[a-z][a-z0-9_-]{0,49}$'),
    constraint nodes_metadata_object check (jsonb_typeof(metadata) = 'object'),
    constraint nodes_position_bounds check (
        position_x between -10000 and 10000 and position_y between -10000 and 10000)
);
-- The seed's idx_nodes_feature_created: a feature's nodes, newest first, per owner.
create index nodes_owner_type_created on nodes.nodes (owner_id, type, created_at desc);
create index nodes_metadata_gin on nodes.nodes using gin (metadata jsonb_path_ops);

create table nodes.node_relationships (
    relationship_id    uuid primary key default gen_random_uuid(),
    owner_id           uuid not null,
    source_node_id     uuid not null,
    target_node_id     uuid not null,
    relationship_type  text not null,
    metadata           jsonb not null default '{}',
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    deleted_at         timestamptz,
    deleted_by         text,
    constraint relationships_source_fkey foreign key (owner_id, source_node_id)
        references nodes.nodes (owner_id, node_id) on delete cascade,
    constraint relationships_target_fkey foreign key (owner_id, target_node_id)
        references nodes.nodes (owner_id, node_id) on delete cascade,
    constraint relationships_edge_key unique (source_node_id, target_node_id, relationship_type),
    constraint relationships_source_target_different check (source_node_id <> target_node_id),
    constraint relationships_type_format check (relationship_type ~ '^[a-z][a-z0-9_]{0,49}$'),
    constraint relationships_metadata_object check (jsonb_typeof(metadata) = 'object')
);
-- Incoming edges (a node's neighbours) and the cascade from a target; outgoing ones use
-- the graph feature's (source, target, type) index.
create index relationships_target on nodes.node_relationships (target_node_id, relationship_type);
create index relationships_owner_source on nodes.node_relationships (owner_id, source_node_id);
create index relationships_owner_target on nodes.node_relationships (owner_id, target_node_id);

create table nodes.node_events (
    event_id   bigint generated always as identity,
    owner_id   uuid not null,
    node_id    uuid,
    feature    text not null,
    action     text not null,
    metadata   jsonb not null default '{}',
    at         timestamptz not null default now(),
    constraint node_events_pkey primary key (event_id, at),
    constraint node_events_action_format check (action ~ '^[a-z][a-z0-9_]{0,49}$')
) partition by range (at);
"""

DOWNGRADE = r"""
drop table if exists nodes.node_events;
drop table if exists nodes.node_relationships;
drop table if exists nodes.nodes;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
