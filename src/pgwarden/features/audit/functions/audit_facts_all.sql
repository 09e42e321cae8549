-- view warden.audit_facts_all
-- The facts view (and with it audit_facts, audit_state_at, audit_first_after, history,
-- row_as_of, as_of and versions, which read only through it) now covers both stores.
CREATE OR REPLACE VIEW warden.audit_facts_all AS
 SELECT x.k AS row_key,
    e.statement_id,
    x.phase,
    e.event_id,
    e.at,
    e.op,
    e.txid,
    e.context_seq,
    x.present_before,
    x.row_before,
    x.present_after,
    x.row_after,
    e.table_id,
    e.row_key AS event_key,
    e.old_key AS event_old_key
   FROM (warden.audit_events_all e
     CROSS JOIN LATERAL ( VALUES (e.row_key,1,((e.op = 'D'::"char") OR ((e.op = 'U'::"char") AND (e.old_key IS NULL))),
                CASE
                    WHEN (e.op = 'D'::"char") THEN e.old_row
                    WHEN ((e.op = 'U'::"char") AND (e.old_key IS NULL)) THEN (e.new_row || e.old_row)
                    ELSE NULL::jsonb
                END,(e.op <> 'D'::"char"),
                CASE
                    WHEN (e.op <> 'D'::"char") THEN e.new_row
                    ELSE NULL::jsonb
                END), (e.old_key,0,true,(e.new_row || e.old_row),false,NULL::jsonb)) x(k, phase, present_before, row_before, present_after, row_after))
  WHERE ((e.op <> 'T'::"char") AND (x.k IS NOT NULL));
