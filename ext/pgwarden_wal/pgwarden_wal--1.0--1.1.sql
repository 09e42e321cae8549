-- pgwarden_wal 1.1: trigger capture's context in C (warden_wal.audit_seq, audit_record).
\echo Use "ALTER EXTENSION pgwarden_wal UPDATE" to load this file. \quit

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
