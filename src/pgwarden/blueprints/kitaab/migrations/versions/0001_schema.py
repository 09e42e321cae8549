"""Kitaab schema, part 1: enums, users, the deed hierarchy, scales, entries.

Revision ID: 0001
Revises:
Create Date: 2026-11-30

Tables live in schema ``kitaab``. Columns that pgwarden's features manage (``created_at`` /
``updated_at`` for ``timestamps``, ``deleted_at`` for ``soft_delete``) are created here so the
seed's partial indexes can name them; the features adopt them. ``entries`` is partitioned by
year of ``entry_date``: the ``partition`` feature owns its default partition and the yearly
partitions (premake, rescue).
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
create type kitaab.deed_category_type as enum ('hasanaat', 'saiyyiaat');
create type kitaab.relation_status_enum as enum ('pending', 'accepted', 'rejected');
create type kitaab.permission_type_enum as enum ('read', 'write');
create type kitaab.completion_type_enum as enum ('and', 'or');
create type kitaab.measure_type_enum as enum ('count', 'scale');
create type kitaab.reflection_type_enum as enum ('daily', 'hasanaat', 'saiyyiaat');
create type kitaab.message_sender_enum as enum ('user', 'support');

-- A time zone name PostgreSQL knows ('Europe/Berlin', 'UTC').
create function kitaab.is_time_zone(p_name text) returns boolean
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
begin
    perform now() at time zone p_name;
    return true;
exception when invalid_parameter_value then
    return false;
end
$$;

-- 1. Users (preferences merged in)
create table kitaab.users (
    user_id            bigserial primary key,
    email              varchar(255) not null,
    password_hash      text not null,
    full_name          varchar(255) not null,
    email_verified     boolean not null default false,
    verification_token varchar(64),
    is_active          boolean not null default true,
    timezone           varchar(64) not null default 'UTC',
    language           varchar(10) not null default 'en',
    theme              varchar(20) not null default 'light',
    week_start         smallint not null default 1,
    onboarded_at       timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    deleted_at         timestamptz,
    constraint users_email_key unique (email),
    constraint users_email_format check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
    constraint users_full_name_present check (length(btrim(full_name)) > 0),
    constraint users_timezone_valid check (kitaab.is_time_zone(timezone)),
    constraint users_week_start_range check (week_start between 0 and 6),
    constraint users_theme_known check (theme in ('light', 'dark', 'system'))
);
create index idx_users_active on kitaab.users (is_active) where deleted_at is null;
create unique index users_verification_token_key on kitaab.users (verification_token)
    where verification_token is not null;

-- Opaque bearer tokens (hash stored), one row per login.
create table kitaab.auth_tokens (
    token_hash bytea primary key,
    user_id    bigint not null references kitaab.users on delete cascade,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null
);
create index idx_auth_tokens_user_id on kitaab.auth_tokens (user_id);

-- 2. Deed hierarchy
create table kitaab.deeds (
    deed_id       bigserial primary key,
    user_id       bigint not null references kitaab.users on delete cascade,
    name          varchar(255) not null,
    description   text,
    category_type kitaab.deed_category_type not null,
    is_active     boolean not null default true,
    display_order integer not null default 0,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    deleted_at    timestamptz,
    constraint deeds_name_present check (length(btrim(name)) > 0)
);
create index idx_deeds_user_id on kitaab.deeds (user_id) where deleted_at is null;
create index idx_deeds_active on kitaab.deeds (is_active, user_id) where deleted_at is null;

create table kitaab.deed_items (
    deed_item_id        bigserial primary key,
    deed_id             bigint not null references kitaab.deeds on delete cascade,
    parent_deed_item_id bigint references kitaab.deed_items on delete cascade,
    name                varchar(255) not null,
    description         text,
    level               smallint not null,
    display_order       integer not null default 0,
    is_active           boolean not null default true,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint deed_items_name_present check (length(btrim(name)) > 0),
    constraint deed_items_level_valid check (
        (parent_deed_item_id is null and level = 1)
        or (parent_deed_item_id is not null and level > 1)),
    constraint deed_items_depth_limit check (level <= 5),
    constraint deed_items_not_own_parent check (parent_deed_item_id <> deed_item_id)
);
create index idx_deed_items_deed_id on kitaab.deed_items (deed_id) where is_active;
create index idx_deed_items_level on kitaab.deed_items (deed_id, level, display_order)
    where is_active;
create index idx_deed_items_parent on kitaab.deed_items (parent_deed_item_id)
    where parent_deed_item_id is not null;

-- The hierarchy's integrity: a parent in the same deed, level = parent's level + 1, no cycle,
-- depth at most 5 (the CHECK), and children follow a move of their parent.
create function kitaab.deed_items_hierarchy() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    parent record;
begin
    if new.parent_deed_item_id is null then
        new.level := 1;
    else
        select deed_id, level into parent from kitaab.deed_items
         where deed_item_id = new.parent_deed_item_id;
        if not found then
            return new;  -- the foreign key reports it
        end if;
        if parent.deed_id <> new.deed_id then
            raise exception 'deed item % and its parent % belong to different deeds',
                new.deed_item_id, new.parent_deed_item_id
                using errcode = 'check_violation', constraint = 'deed_items_same_deed';
        end if;
        -- Moves within one deed are serialized, so two concurrent moves cannot make a cycle.
        if tg_op = 'UPDATE' then
            perform pg_advisory_xact_lock(
                hashtext('kitaab.deed_items'), (new.deed_id % 2147483647)::int);
        end if;
        if tg_op = 'UPDATE' and exists (
            with recursive up as (
                select deed_item_id, parent_deed_item_id, 1 as depth from kitaab.deed_items
                 where deed_item_id = new.parent_deed_item_id
                union all
                select d.deed_item_id, d.parent_deed_item_id, up.depth + 1
                  from kitaab.deed_items d join up on d.deed_item_id = up.parent_deed_item_id
                 where up.depth < 100
            )
            select 1 from up where deed_item_id = new.deed_item_id
        ) then
            raise exception 'moving deed item % under % would make a cycle',
                new.deed_item_id, new.parent_deed_item_id
                using errcode = 'check_violation', constraint = 'deed_items_no_cycle';
        end if;
        new.level := parent.level + 1;
    end if;
    return new;
end
$$;
create trigger kitaab_hierarchy before insert or update of parent_deed_item_id, deed_id, level
    on kitaab.deed_items for each row execute function kitaab.deed_items_hierarchy();

-- A moved item's subtree gets its new levels (each child's trigger checks the depth limit).
create function kitaab.deed_items_relevel() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    update kitaab.deed_items set level = new.level + 1
     where parent_deed_item_id = new.deed_item_id and level <> new.level + 1;
    return null;
end
$$;
create trigger kitaab_relevel after update of level on kitaab.deed_items
    for each row when (old.level is distinct from new.level)
    execute function kitaab.deed_items_relevel();

create table kitaab.scales (
    scale_id    bigserial primary key,
    deed_id     bigint not null references kitaab.deeds on delete cascade,
    name        varchar(255) not null,
    scale_version integer not null default 1,
    is_active   boolean not null default true,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    constraint scales_version_positive check (scale_version >= 1),
    constraint scales_deed_version_key unique (deed_id, scale_version)
);
create unique index scales_one_active_per_deed on kitaab.scales (deed_id) where is_active;

create table kitaab.scale_values (
    scale_value_id bigserial primary key,
    scale_id       bigint not null references kitaab.scales on delete cascade,
    value_name     varchar(255) not null,
    value_order    integer not null,
    created_at     timestamptz not null default now(),
    constraint scale_values_name_present check (length(btrim(value_name)) > 0),
    constraint scale_values_name_key unique (scale_id, value_name),
    constraint scale_values_order_key unique (scale_id, value_order)
);

-- 3. Entries (partitioned by year of entry_date); entry_history is pgwarden's audit trail.
create table kitaab.entries (
    entry_id           bigserial not null,
    user_id            bigint not null references kitaab.users on delete cascade,
    deed_item_id       bigint not null references kitaab.deed_items on delete restrict,
    entry_date         date not null,
    created_by_user_id bigint references kitaab.users on delete set null,
    scale_id           bigint references kitaab.scales on delete set null,
    scale_value_id     bigint references kitaab.scale_values on delete restrict,
    count_value        numeric(10, 2),
    notes              text,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    primary key (entry_id, entry_date),
    constraint unique_user_deed_item_date unique (user_id, deed_item_id, entry_date),
    constraint entry_has_value check (scale_value_id is not null or count_value is not null),
    constraint entry_count_not_negative check (count_value >= 0)
) partition by range (entry_date);
create index idx_entries_user_date on kitaab.entries (user_id, entry_date desc);
create index idx_entries_deed_item_id on kitaab.entries (deed_item_id);
create index idx_entries_created_by on kitaab.entries (created_by_user_id)
    where created_by_user_id is not null;
"""

DOWNGRADE = r"""
drop table if exists kitaab.entries, kitaab.scale_values, kitaab.scales,
    kitaab.deed_items, kitaab.deeds, kitaab.auth_tokens, kitaab.users cascade;
drop function if exists kitaab.deed_items_relevel(), kitaab.deed_items_hierarchy(),
    kitaab.is_time_zone(text);
drop type if exists kitaab.message_sender_enum, kitaab.reflection_type_enum,
    kitaab.measure_type_enum, kitaab.completion_type_enum, kitaab.permission_type_enum,
    kitaab.relation_status_enum, kitaab.deed_category_type;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
