-- Each refresh of a declared materialized view: when, how long, how many rows, how.
create table if not exists warden.view_refreshes (
    refresh_id   bigint generated always as identity primary key,
    view_name    text not null,
    started_at   timestamptz not null,
    seconds      double precision not null,
    rows         bigint,
    concurrent   boolean not null,
    ok           boolean not null,
    detail       text not null default ''
);
create index if not exists view_refreshes_by_view on warden.view_refreshes (view_name, started_at);
comment on table warden.view_refreshes is
    'One row per refresh of a materialized view declared in pgwarden.toml (kept keep_log).';
revoke all on warden.view_refreshes from public;
