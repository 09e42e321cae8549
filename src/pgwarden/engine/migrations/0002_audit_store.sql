-- The audit event store: shared by every audited table, append-only, survives table drops.
--
-- One row per audited transaction (its context), one per statement-level capture (ordering of
-- removals before additions inside a statement), one per changed row. Row images are jsonb so
-- that history stays readable whatever happens to the table's columns later.

create sequence warden.audit_statement_seq;

create table warden.audit_tables (
    table_id      int primary key,
    relid         oid unique,
    schema_name   text not null,
    table_name    text not null,
    key_columns   text[],
    key_types     text[],
    key_attnums   smallint[],
    hidden_columns text[] not null default '{}',
    hidden_attnums smallint[] not null default '{}',
    registered_at timestamptz not null default now(),
    dropped_at    timestamptz
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
);
comment on table warden.audit_events is
    'One row per changed row (op I/U/D) or truncate (T). row_key: the key after the change '
    '(the removed key for D); old_key: the key before an UPDATE that changed it; old_row: the '
    'row before (U, D); new_row: the row after (I, U).';
comment on column warden.audit_events.at is
    'clock_timestamp() when the statement''s changes were captured (after its row locks).';

-- Indexes cost capture time: one btree for one row's history (the key moves index is
-- partial: key changes are rare), one on txid for the feed and per-transaction reverts,
-- BRIN on event_id, which grows with insertion order.
create index audit_events_row on warden.audit_events (table_id, row_key);
create index audit_events_old_key on warden.audit_events (table_id, old_key)
    where old_key is not null;
create index audit_events_feed on warden.audit_events using brin (event_id);
create index audit_events_txid on warden.audit_events (txid);
create index audit_events_at on warden.audit_events using brin (at);

-- Append-only: only the owner of the warden schema writes; capture runs as that owner
-- (SECURITY DEFINER trigger functions), so application roles need no privilege here at all.
revoke all on warden.audit_tables, warden.audit_contexts, warden.audit_events from public;
revoke all on sequence warden.audit_statement_seq from public;
