"""Kitaab schema, part 2: connections and permissions, merits and targets, reflections,
messages, reminders.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = r"""
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
    kitaab.permissions, kitaab.relations cascade;
drop function if exists kitaab.permissions_check();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
