-- pgwarden_wal 1.3: WAL capture's C statement trigger, trigger capture's context and statement
-- triggers, tenancy's signed tenant verified, in C.
\echo Use "CREATE EXTENSION pgwarden_wal" to load this file. \quit

create function warden_wal.statement() returns trigger
language c
as 'MODULE_PATHNAME', 'pgwarden_wal_statement';
comment on function warden_wal.statement() is
    'pgwarden WAL capture: sends the transaction''s context (signed) when it is new or changed.';

create function warden_wal.audit_seq() returns int
language c volatile
as 'MODULE_PATHNAME', 'pgwarden_audit_seq';
comment on function warden_wal.audit_seq() is
    'pgwarden trigger capture: the number of the transaction''s current context (its flag).';

create function warden_wal.audit_record(seq int) returns boolean
language c volatile strict
as 'MODULE_PATHNAME', 'pgwarden_audit_record';
comment on function warden_wal.audit_record(int) is
    'pgwarden trigger capture: the context row of events numbered seq, once per context; '
    'the flag and NOTIFY pgwarden_changes when the context is new. Runs as its caller.';

create function warden_wal.audit_capture() returns trigger
language c
as 'MODULE_PATHNAME', 'pgwarden_audit_capture';
comment on function warden_wal.audit_capture() is
    'pgwarden trigger capture: the events of an INSERT, UPDATE or DELETE statement, read from '
    'its transition tables; writes only for tables warden.audit_tables registers under the id '
    'its trigger names, as the owner of warden.audit_events.';

create function warden_wal.tenant() returns text
language c stable parallel restricted
as 'MODULE_PATHNAME', 'pgwarden_tenant';
comment on function warden_wal.tenant() is
    'pgwarden tenancy: pgwarden.tenant when pgwarden.tenant_mac is its HMAC-SHA256 under the '
    'tenancy key (warden.secrets) bound to this backend and transaction, else NULL; verified '
    'once per transaction and claim. Reads the key as the server does, with no privilege '
    'asked of the caller and nothing of it told.';
