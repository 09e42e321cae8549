-- Trigger capture's cost per statement: the hot store's check on op goes.
--
-- PostgreSQL builds a table's CHECK expressions again for every statement that inserts
-- into it (read back from their stored text, then planned): for trigger capture, one
-- INSERT per captured statement, that was ~5% of a TPC-B transaction's server CPU
-- (docs/benchmarks.md). Only the store's owner writes it, through pgwarden's capture
-- functions and its ingester, which write I, U, D and T only. The archive keeps its check
-- (written in bulk, by moves from here).
alter table warden.audit_events drop constraint if exists audit_events_op_check;
comment on column warden.audit_events.op is
    'I (insert), U (update), D (delete) or T (truncate): written by pgwarden''s capture only.';
