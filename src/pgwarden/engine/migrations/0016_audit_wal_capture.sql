-- Audit capture from the WAL (audit option capture = "wal"): the writing transaction only
-- marks each statement with its context (pg_logical_emit_message); its rows reach the store
-- through logical decoding (a pgoutput slot on publication pgwarden_audit), read and written
-- as events by pgwarden's ingester (pgwarden.features.audit._wal) in commit order.

-- What the ingester needs to build a table's events as its capture function would: how the
-- rows are recorded (excluded and redacted columns, whether unchanged updates count).
alter table warden.audit_tables
    add column if not exists capture text not null default 'trigger',
    add column if not exists excluded text[] not null default '{}',
    add column if not exists redacted text[] not null default '{}',
    add column if not exists skip_unchanged boolean not null default true;
alter table warden.audit_tables drop constraint if exists audit_tables_capture_check;
alter table warden.audit_tables add constraint audit_tables_capture_check
    check (capture in ('trigger', 'wal'));

-- Where ingestion stands: the end LSN of the last transaction whose events are in the store.
-- Written in the same transaction as those events, so a crash between that commit and the
-- slot's advance never writes a transaction twice (the ingester skips up to here).
create table if not exists warden.audit_wal (
    slot_name    text primary key,
    ingested_lsn pg_lsn not null,
    ingested_at  timestamptz not null default now()
);
comment on table warden.audit_wal is
    'Progress of the WAL ingester per replication slot: ingested_lsn is the end LSN of the '
    'last decoded transaction whose events are stored (written with them, exactly once).';
revoke all on warden.audit_wal from public;

-- The slot of this database (slot names are cluster-wide): readable, unique per database.
create or replace function warden.audit_slot_name() returns text
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
    select 'pgwarden_audit_' || left(md5(current_database()), 16)
$$;

-- A 32-bit transaction id seen now (a slot's catalog_xmin, a decoded change's xid) as a
-- full xid8: in the current epoch unless it is ahead of the next id, then in the one before.
create or replace function warden.xid8_of(p_xid xid) returns xid8
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select ((((n >> 32) - case when x > (n & 4294967295) then 1 else 0 end) << 32) | x)::text::xid8
      from (select pg_snapshot_xmax(pg_current_snapshot())::text::bigint as n,
                   p_xid::text::bigint as x) v
$$;

-- As in 0005, and also held back by the WAL ingester: a transaction decoded but not yet
-- ingested gets its events later, under its own (older) transaction id, so the feed must
-- not pass it. Every transaction the slot has not confirmed has an id at or above the
-- slot's catalog_xmin.
create or replace function warden.feed_horizon() returns xid8
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select least(
        coalesce(
            (select min(x) from pg_snapshot_xip(snap.s) x
              where not exists (
                    select 1 from pg_stat_activity a
                     where a.datname is distinct from current_database()
                       and a.backend_xid is not null
                       and a.backend_xid::text::bigint = x::text::bigint % 4294967296)
                and not exists (
                    select 1 from pg_prepared_xacts p
                     where p.database <> current_database()
                       and p.transaction::text::bigint = x::text::bigint % 4294967296)),
            pg_snapshot_xmax(snap.s)),
        (select warden.xid8_of(s.catalog_xmin) from pg_replication_slots s
          where s.slot_name = warden.audit_slot_name() and s.catalog_xmin is not null))
      from (select pg_current_snapshot() as s) snap
$$;

revoke all on function warden.audit_slot_name() from public;
revoke all on function warden.xid8_of(xid) from public;
