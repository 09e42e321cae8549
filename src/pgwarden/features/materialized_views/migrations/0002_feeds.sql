-- Incremental views (incremental = true): each one's position in audit's change feed, written
-- in the same transaction as the deltas it applied. skip: the snapshot the view was last
-- computed whole from; events of the transactions it saw are passed over (they are in it).
create table if not exists warden.view_feeds (
    view_name     text primary key,
    table_name    text not null,
    after_txid    xid8 not null,
    after_event   bigint not null,
    skip          pg_snapshot,
    built_at      timestamptz not null,
    caught_up_at  timestamptz
);
comment on table warden.view_feeds is
    'Feed position of each incremental view declared in pgwarden.toml.';
revoke all on warden.view_feeds from public;
alter table warden.view_refreshes add column if not exists events bigint;
alter table warden.view_refreshes add column if not exists incremental boolean not null default false;
