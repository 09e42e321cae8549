-- view warden.audit_events_all
-- Every event, hot or archived. A plain UNION ALL of the two stores with identical column
-- types: the planner flattens it and pushes the callers' conditions (table id, key, txid,
-- time) into each store, so each uses its own indexes.
CREATE OR REPLACE VIEW warden.audit_events_all AS
 SELECT e.event_id,
    e.statement_id,
    e.txid,
    e.context_seq,
    e.table_id,
    e.op,
    e.at,
    e.row_key,
    e.old_key,
    e.old_row,
    e.new_row,
    false AS archived
   FROM warden.audit_events e
UNION ALL
 SELECT a.event_id,
    a.statement_id,
    a.txid,
    a.context_seq,
    a.table_id,
    a.op,
    a.at,
    a.row_key,
    a.old_key,
    a.old_row,
    a.new_row,
    true AS archived
   FROM warden.audit_events_archive a;
