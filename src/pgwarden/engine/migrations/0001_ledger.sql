-- pgwarden's own bookkeeping: the objects it owns, and every apply.
create table warden.owned_objects (
    object_key      text primary key,
    kind            text not null,
    identity        jsonb not null,
    feature         text not null,
    table_name      jsonb not null,
    description     text not null,
    definition_hash text not null,
    fingerprint     text not null,
    create_sql      text not null,
    drop_sql        text not null,
    destructive     boolean not null default false,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
comment on table warden.owned_objects is
    'Every database object pgwarden created, with the SQL that made it and a fingerprint of it as '
    'it was left, so that drift shows and removing a feature removes exactly what it created.';

create table warden.applies (
    apply_id         bigint generated always as identity primary key,
    applied_at       timestamptz not null default now(),
    applied_by       text not null default current_user,
    pgwarden_version text not null,
    plan_fingerprint text not null,
    changes          jsonb not null
);
comment on table warden.applies is 'One row per successful pgwarden apply: what it changed.';

revoke all on all tables in schema warden from public;
