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
-- horizon: every transaction with a smaller id has its events in the store (the oldest
-- transaction running when the last complete pass began), for the change feed.
create table if not exists warden.audit_wal (
    slot_name    text primary key,
    ingested_lsn pg_lsn not null,
    horizon      xid8 not null default '0',
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

-- The oldest transaction that may still add events to this database, as 0005's
-- feed_horizon computed it (transactions of other databases do not count).
create or replace function warden.running_horizon() returns xid8
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select coalesce(
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
        pg_snapshot_xmax(snap.s))
      from (select pg_current_snapshot() as s) snap
$$;

-- As in 0005, and also held back by the WAL ingester: a transaction committed but not yet
-- ingested gets its events later, under its own (older) transaction id, so the feed must
-- not pass it. While this database has its slot, the feed stops at the ingester's horizon.
create or replace function warden.feed_horizon() returns xid8
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select least(
        warden.running_horizon(),
        (select coalesce((select w.horizon from warden.audit_wal w
                           where w.slot_name = s.slot_name), '0'::xid8)
           from pg_replication_slots s where s.slot_name = warden.audit_slot_name()))
$$;

revoke all on function warden.audit_slot_name() from public;
revoke all on function warden.running_horizon() from public;
