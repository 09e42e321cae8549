-- function warden.changes_after(xid8,bigint,integer,integer)
-- The change feed: events after (p_after_txid, p_after_event), ordered by transaction id and
-- event, only below warden.feed_horizon() (no transaction still running, or not yet ingested,
-- can commit behind a reader). Reads both stores: a reader behind the archive horizon reads
-- archived events in their place in the feed (nothing is skipped because it moved).
-- The horizon is taken first, then the events are read in a statement of their own (this
-- function is volatile): in READ COMMITTED its snapshot is newer than the horizon's, so every
-- transaction below the horizon is visible to it (read with an older snapshot, one committing
-- in between would be passed unseen); in REPEATABLE READ both are the transaction's.
CREATE OR REPLACE FUNCTION warden.changes_after(p_after_txid xid8, p_after_event bigint, p_limit integer DEFAULT 1000, p_table_id integer DEFAULT NULL::integer) RETURNS TABLE(event_id bigint, txid xid8, at timestamp with time zone, table_name text, op "char", row_key jsonb, old_key jsonb, old_row jsonb, new_row jsonb, actor text, tenant text, reason text, request_id text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    horizon xid8 := warden.feed_horizon();
begin
    return query
    select e.event_id, e.txid, e.at, t.schema_name || '.' || t.table_name, e.op, e.row_key,
           e.old_key, e.old_row, e.new_row, c.actor, c.tenant, c.reason, c.request_id
      from warden.audit_events_all e
      join warden.audit_tables t on t.table_id = e.table_id
      left join warden.audit_contexts c
        on c.txid = e.txid and c.context_seq = e.context_seq
     where e.txid >= p_after_txid
       and (e.txid > p_after_txid or e.event_id > p_after_event)
       and e.txid < horizon
       and (p_table_id is null or e.table_id = p_table_id)
     order by e.txid, e.event_id
     limit p_limit;
end
$$;
REVOKE ALL ON FUNCTION warden.changes_after(p_after_txid xid8, p_after_event bigint, p_limit integer, p_table_id integer) FROM PUBLIC;
