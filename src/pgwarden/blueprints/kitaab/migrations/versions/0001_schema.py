"""Kitaab schema: every cluster of the plan, its enums, rules and indexes.

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

-- 4. Social: unidirectional connections, per-item permissions (versioned by pgwarden).
create table kitaab.relations (
    relation_id  bigserial primary key,
    requester_id bigint not null references kitaab.users on delete cascade,
    requestee_id bigint not null references kitaab.users on delete cascade,
    status       kitaab.relation_status_enum not null default 'pending',
    responded_at timestamptz,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    constraint relations_no_self check (requester_id <> requestee_id),
    constraint relations_pair_key unique (requester_id, requestee_id)
);
create index idx_relations_requestee on kitaab.relations (requestee_id, status);
create index idx_relations_accepted on kitaab.relations (requester_id, requestee_id)
    where status = 'accepted';

create table kitaab.permissions (
    permission_id   bigserial primary key,
    relation_id     bigint not null references kitaab.relations on delete cascade,
    deed_item_id    bigint not null references kitaab.deed_items on delete cascade,
    permission_type kitaab.permission_type_enum not null,
    is_active       boolean not null default true,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint permissions_relation_item_key unique (relation_id, deed_item_id)
);
create index idx_permissions_relation_deed on kitaab.permissions
    (relation_id, deed_item_id, is_active);
create index idx_permissions_deed_item on kitaab.permissions (deed_item_id);

-- A permission is granted on the requestee's own items, over an accepted relation.
create function kitaab.permissions_check() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    rel record;
    owner_id bigint;
begin
    select requestee_id, status into rel from kitaab.relations where relation_id = new.relation_id;
    if not found then
        return new;  -- the foreign key reports it
    end if;
    if rel.status <> 'accepted' then
        raise exception 'relation % is %, not accepted', new.relation_id, rel.status
            using errcode = 'check_violation', constraint = 'permissions_relation_accepted';
    end if;
    select d.user_id into owner_id from kitaab.deed_items i join kitaab.deeds d using (deed_id)
     where i.deed_item_id = new.deed_item_id;
    if owner_id is distinct from rel.requestee_id then
        raise exception 'deed item % does not belong to user %', new.deed_item_id, rel.requestee_id
            using errcode = 'check_violation', constraint = 'permissions_owner_item';
    end if;
    return new;
end
$$;
create trigger kitaab_permissions_check before insert or update of relation_id, deed_item_id
    on kitaab.permissions for each row execute function kitaab.permissions_check();

-- 5. Progress: merits (deed-specific) and targets (multi-deed), AND / OR completion.
create table kitaab.merits (
    merit_id        bigserial primary key,
    user_id         bigint not null references kitaab.users on delete cascade,
    deed_id         bigint not null references kitaab.deeds on delete cascade,
    name            varchar(255) not null,
    completion_type kitaab.completion_type_enum not null default 'and',
    start_date      date not null,
    end_date        date not null,
    is_active       boolean not null default true,
    completed_at    timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint merits_dates check (end_date >= start_date)
);
create index idx_merits_user_active on kitaab.merits (user_id)
    where is_active and completed_at is null;
create index idx_merits_deed_id on kitaab.merits (deed_id);

create table kitaab.merit_items (
    merit_item_id  bigserial primary key,
    merit_id       bigint not null references kitaab.merits on delete cascade,
    deed_item_id   bigint not null references kitaab.deed_items on delete cascade,
    measure        kitaab.measure_type_enum not null,
    scale_value_id bigint references kitaab.scale_values on delete set null,
    target_value   numeric(10, 2) not null,
    constraint merit_items_target_positive check (target_value > 0),
    constraint merit_items_count_has_no_scale check (measure = 'scale' or scale_value_id is null)
);
create index idx_merit_items_merit_id on kitaab.merit_items (merit_id);
create index idx_merit_items_deed_item_id on kitaab.merit_items (deed_item_id);
create index idx_merit_items_scale_value_id on kitaab.merit_items (scale_value_id)
    where scale_value_id is not null;

create table kitaab.targets (
    target_id       bigserial primary key,
    user_id         bigint not null references kitaab.users on delete cascade,
    name            varchar(255) not null,
    completion_type kitaab.completion_type_enum not null default 'and',
    start_date      date not null,
    end_date        date not null,
    is_active       boolean not null default true,
    completed_at    timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint targets_dates check (end_date >= start_date)
);
create index idx_targets_user_active on kitaab.targets (user_id)
    where is_active and completed_at is null;

create table kitaab.target_items (
    target_item_id bigserial primary key,
    target_id      bigint not null references kitaab.targets on delete cascade,
    deed_item_id   bigint not null references kitaab.deed_items on delete cascade,
    measure        kitaab.measure_type_enum not null,
    scale_value_id bigint references kitaab.scale_values on delete set null,
    target_value   numeric(10, 2) not null,
    constraint target_items_target_positive check (target_value > 0),
    constraint target_items_count_has_no_scale check (measure = 'scale' or scale_value_id is null)
);
create index idx_target_items_target_id on kitaab.target_items (target_id);
create index idx_target_items_deed_item_id on kitaab.target_items (deed_item_id);
create index idx_target_items_scale_value_id on kitaab.target_items (scale_value_id)
    where scale_value_id is not null;

-- 6. Reflections (one per type per day) and support messages.
create table kitaab.reflection_messages (
    reflection_id   bigserial primary key,
    user_id         bigint not null references kitaab.users on delete cascade,
    reflection_date date not null,
    type            kitaab.reflection_type_enum not null default 'daily',
    content         text not null,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint reflections_content_present check (length(btrim(content)) > 0),
    constraint reflections_one_per_type_per_day unique (user_id, reflection_date, type)
);

create table kitaab.messages (
    message_id bigserial primary key,
    user_id    bigint not null references kitaab.users on delete cascade,
    sender     kitaab.message_sender_enum not null default 'user',
    subject    varchar(255),
    content    text not null,
    is_read    boolean not null default false,
    created_at timestamptz not null default now(),
    constraint messages_content_present check (length(btrim(content)) > 0)
);
create index idx_messages_user_created on kitaab.messages (user_id, created_at desc);
create index idx_messages_content_gin on kitaab.messages
    using gin (to_tsvector('english', content));

-- 7. Reminders: one active per user, at a local time in the user's time zone.
create table kitaab.notifications (
    notification_id   bigserial primary key,
    user_id           bigint not null references kitaab.users on delete cascade,
    notification_time time not null,
    is_active         boolean not null default true,
    next_due_at       timestamptz,
    last_sent_on      date,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now()
);
create unique index notifications_one_active_per_user on kitaab.notifications (user_id)
    where is_active;
create index idx_notifications_time on kitaab.notifications (next_due_at) where is_active;

-- The next instant, strictly after p_after and on a local day after p_sent_on, at which the
-- local clock of p_zone shows p_time. A local time skipped by a DST change fires at the
-- instant the clock jumps past it; one repeated fires at its first occurrence.
create function kitaab.next_reminder_at(
    p_time time, p_zone text, p_after timestamptz, p_sent_on date
) returns timestamptz
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    day date := (p_after at time zone p_zone)::date;
    due timestamptz;
begin
    if p_sent_on is not null and day <= p_sent_on then
        day := p_sent_on + 1;
    end if;
    loop
        due := (day + p_time) at time zone p_zone;
        exit when due > p_after;
        day := day + 1;
    end loop;
    return due;
end
$$;
"""

DOWNGRADE = r"""
drop function if exists kitaab.next_reminder_at(time, text, timestamptz, date);
drop table if exists kitaab.notifications, kitaab.messages, kitaab.reflection_messages,
    kitaab.target_items, kitaab.targets, kitaab.merit_items, kitaab.merits,
    kitaab.permissions, kitaab.relations, kitaab.entries, kitaab.scale_values, kitaab.scales,
    kitaab.deed_items, kitaab.deeds, kitaab.auth_tokens, kitaab.users cascade;
drop function if exists kitaab.permissions_check(), kitaab.deed_items_relevel(),
    kitaab.deed_items_hierarchy(), kitaab.is_time_zone(text);
drop type if exists kitaab.message_sender_enum, kitaab.reflection_type_enum,
    kitaab.measure_type_enum, kitaab.completion_type_enum, kitaab.permission_type_enum,
    kitaab.relation_status_enum, kitaab.deed_category_type;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
