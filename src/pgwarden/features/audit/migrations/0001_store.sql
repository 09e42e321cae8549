-- baseline: legacy 24
-- The audit event store, as pgwarden's single migration stream left it at version 24 (its
-- history is in git: src/pgwarden/engine/migrations/0002-0024 before edff86b's successor).
-- State only; every function and view over it is in ../functions, defined once.
--
-- Shared by every audited table, append-only, survives table drops: one row per audited
-- transaction (its context), one per changed row. Row images are jsonb so history stays
-- readable whatever happens to the table's columns later. Only the owner of the warden schema
-- writes; capture runs as that owner (SECURITY DEFINER trigger functions), so application
-- roles need no privilege here at all.

create sequence warden.audit_statement_seq;
revoke all on sequence warden.audit_statement_seq from public;

create table warden.audit_tables (
    table_id       int primary key,
    relid          oid unique,
    schema_name    text not null,
    table_name     text not null,
    key_columns    text[],
    key_types      text[],
    key_attnums    smallint[],
    hidden_columns text[] not null default '{}',
    hidden_attnums smallint[] not null default '{}',
    registered_at  timestamptz not null default now(),
    dropped_at     timestamptz,
    retention      interval,
    archive_after  interval,
    -- What the WAL ingester needs to build a table's events as its capture function would.
    capture        text not null default 'trigger',
    excluded       text[] not null default '{}',
    redacted       text[] not null default '{}',
    skip_unchanged boolean not null default true,
    constraint audit_tables_capture_check check (capture in ('trigger', 'wal'))
);
comment on table warden.audit_tables is
    'Every table pgwarden audits or has audited; its events stay when the table goes. '
    'table_id is chosen at plan time and compiled into the capture function (nothing a '
    'session can set changes it). key_columns identify a row (NULL: the whole row); '
    'hidden_columns are excluded or redacted, so never written back by a revert.';

create table warden.audit_contexts (
    txid             xid8 not null,
    context_seq      smallint not null,
    tx_started_at    timestamptz not null,
    actor            text,
    tenant           text,
    reason           text,
    request_id       text,
    login_role       text not null,
    acting_role      text not null,
    client_addr      inet,
    application_name text,
    backend_pid      int not null,
    primary key (txid, context_seq)
);
comment on table warden.audit_contexts is
    'Who, why and from where, once per audited transaction (pgwarden.actor/tenant/reason/'
    'request_id settings, roles, client address, application). Keyed by the transaction id '
    'itself, so a session can never file its changes under another transaction''s context.';

-- Partitioned by month of `at`: maintenance makes months ahead, a default partition catches
-- anything else, and retention drops whole months (warden.audit_prune deletes the rest).
-- Everything before next month starts in `audit_events__history`, as on a store that was
-- partitioned after the fact.
create table warden.audit_events (
    event_id     bigint generated always as identity,
    statement_id bigint not null,
    txid         xid8 not null,
    context_seq  smallint not null,
    table_id     int not null,
    op           "char" not null check (op in ('I', 'U', 'D', 'T')),
    at           timestamptz not null,
    row_key      jsonb,
    old_key      jsonb,
    old_row      jsonb,
    new_row      jsonb
) partition by range (at);
comment on table warden.audit_events is
    'One row per changed row (op I/U/D) or truncate (T), partitioned by month of at. row_key: '
    'the key after the change (the removed key for D); old_key: the key before an UPDATE that '
    'changed it; old_row: the row before (U, D); new_row: the row after (I, U).';
comment on column warden.audit_events.at is
    'clock_timestamp() when the statement''s changes were captured (after its row locks).';
do $$
declare
    boundary timestamptz :=
        (date_trunc('month', now() at time zone 'UTC') + interval '1 month') at time zone 'UTC';
begin
    execute format('create table warden.audit_events__history partition of warden.audit_events '
                   'for values from (minvalue) to (%L)', boundary);
    execute format('create table warden.audit_events__p%s partition of warden.audit_events '
                   'for values from (%L) to (%L)', to_char(boundary at time zone 'UTC', 'YYYYMM'),
                   boundary, boundary + interval '1 month');
end
$$;
create table warden.audit_events__default partition of warden.audit_events default;
-- Indexes cost capture time: one btree for one row's history (the key moves index is
-- partial: key changes are rare), one on txid for the feed and per-transaction reverts,
-- BRIN on event_id and at, which grow with insertion order.
create index audit_events_row on warden.audit_events (table_id, row_key);
create index audit_events_old_key on warden.audit_events (table_id, old_key)
    where old_key is not null;
create index audit_events_feed on warden.audit_events using brin (event_id);
create index audit_events_txid on warden.audit_events (txid);
create index audit_events_at on warden.audit_events using brin (at);
revoke all on warden.audit_tables, warden.audit_contexts, warden.audit_events from public;

-- Events older than their table's archive_after leave the hot store for this one (same
-- columns, partitioned by year of at; the audit-archive job makes the years). Every read goes
-- through warden.audit_events_all (hot UNION ALL archive).
create table warden.audit_events_archive (
    like warden.audit_events including constraints including comments
) partition by range (at);
comment on table warden.audit_events_archive is
    'Audit events moved out of warden.audit_events once older than their table''s '
    'archive_after (columns and meaning unchanged), partitioned by year of at. Yearly '
    'partitions are made by the audit-archive job as it needs them.';
-- Written once and read rarely: lz4 where the server has it. Partitions inherit it.
do $$
begin
    if exists (select 1 from pg_settings
                where name = 'default_toast_compression' and 'lz4' = any(enumvals)) then
        alter table warden.audit_events_archive
            alter column row_key set compression lz4,
            alter column old_key set compression lz4,
            alter column old_row set compression lz4,
            alter column new_row set compression lz4;
    end if;
end
$$;
create index audit_events_archive_row on warden.audit_events_archive (table_id, row_key);
create index audit_events_archive_old_key on warden.audit_events_archive (table_id, old_key)
    where old_key is not null;
create index audit_events_archive_txid on warden.audit_events_archive (txid);
create index audit_events_archive_feed on warden.audit_events_archive using brin (event_id);
create index audit_events_archive_at on warden.audit_events_archive using brin (at);
revoke all on warden.audit_events_archive from public;

-- Names of each audited table's columns over time, by attribute number (stable across
-- renames): reads translate old row images to the current names.
create table warden.audit_columns (
    table_id int not null,
    attnum   smallint not null,
    name     text,
    since    timestamptz not null,
    txid     xid8,
    primary key (table_id, attnum, since)
);
comment on table warden.audit_columns is
    'Names of the columns of each audited table over time, by attribute number: name is the '
    'column''s name from since on (NULL: dropped). -infinity: the name it had when names '
    'were first recorded. Written at registration and by the event trigger '
    'warden.audit_track_columns (ALTER TABLE); read to translate old row images to the '
    'current names.';
revoke all on warden.audit_columns from public;

-- A per-database secret for redaction: a redacted value is stored as a keyed hash, equal for
-- equal values (so changes still show) but not reversible by guessing common values.
insert into warden.secrets values ('audit_redaction', md5(random()::text || clock_timestamp()::text)
                                                      || md5(random()::text || pg_backend_pid()))
on conflict do nothing;

-- WAL capture (capture = "wal"): where ingestion stands, per slot: the end LSN of the last
-- transaction whose events are in the store, written with them (exactly once); horizon:
-- every transaction with a smaller id has its events in the store (for the change feed).
create table warden.audit_wal (
    slot_name    text primary key,
    ingested_lsn pg_lsn not null,
    horizon      xid8 not null default '0',
    ingested_at  timestamptz not null default now()
);
comment on table warden.audit_wal is
    'Progress of the WAL ingester per replication slot: ingested_lsn is the end LSN of the '
    'last decoded transaction whose events are stored (written with them, exactly once).';
revoke all on warden.audit_wal from public;

-- The key of the MACs WAL capture's messages end with (pg_logical_emit_message is open to
-- every role: unsigned, a message could claim other roles or a TRUNCATE that never was).
create table warden.audit_wal_key (
    one    boolean primary key default true check (one),
    secret bytea not null
);
comment on table warden.audit_wal_key is
    'Secret keying the MACs of the WAL capture''s messages (readable only by the owner).';
revoke all on warden.audit_wal_key from public;
-- gen_random_uuid() draws from the server's strong random source: 2 x 122 random bits.
insert into warden.audit_wal_key (secret)
select uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid());

-- What every role's statements call for WAL capture (functions in ../functions).
create schema warden_wal;
comment on schema warden_wal is
    'What every role''s statements call for pgwarden''s WAL capture: the context they send.';
revoke all on schema warden_wal from public;
grant usage on schema warden_wal to public;
