-- pgwarden_wal 1.0: warden_wal.statement(), the C twin of warden.audit_wal_statement().
\echo Use "CREATE EXTENSION pgwarden_wal" to load this file. \quit

create function warden_wal.statement() returns trigger
language c
as 'MODULE_PATHNAME', 'pgwarden_wal_statement';
comment on function warden_wal.statement() is
    'pgwarden WAL capture: sends the transaction''s context (signed) when it is new or changed.';
