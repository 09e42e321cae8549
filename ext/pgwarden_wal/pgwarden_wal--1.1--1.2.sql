-- pgwarden_wal 1.2: trigger capture's statement triggers in C (warden_wal.audit_capture).
\echo Use "ALTER EXTENSION pgwarden_wal UPDATE" to load this file. \quit

create function warden_wal.audit_capture() returns trigger
language c
as 'MODULE_PATHNAME', 'pgwarden_audit_capture';
comment on function warden_wal.audit_capture() is
    'pgwarden trigger capture: the events of an INSERT, UPDATE or DELETE statement, read from '
    'its transition tables; writes only for tables warden.audit_tables registers under the id '
    'its trigger names, as the owner of warden.audit_events.';
