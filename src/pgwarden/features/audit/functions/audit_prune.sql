-- function warden.audit_prune(integer,timestamp with time zone)
-- Retention covers both stores: up to p_batch events past their table's retention, hot
-- ones first. A context row goes only when neither store still has an event of it (an
-- archived event keeps its who and why).
CREATE OR REPLACE FUNCTION warden.audit_prune(p_batch integer DEFAULT 10000, p_now timestamp with time zone DEFAULT now()) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    removed bigint;
    more bigint;
begin
    with doomed as (
        select e.tableoid, e.ctid from warden.audit_events e
          join warden.audit_tables t on t.table_id = e.table_id
         where t.retention is not null and e.at < p_now - t.retention
         limit p_batch
    )
    delete from warden.audit_events e using doomed d
     where e.tableoid = d.tableoid and e.ctid = d.ctid;
    get diagnostics removed = row_count;
    if removed < p_batch then
        with doomed as (
            select e.tableoid, e.ctid from warden.audit_events_archive e
              join warden.audit_tables t on t.table_id = e.table_id
             where t.retention is not null and e.at < p_now - t.retention
             limit p_batch - removed
        )
        delete from warden.audit_events_archive e using doomed d
         where e.tableoid = d.tableoid and e.ctid = d.ctid;
        get diagnostics more = row_count;
        removed := removed + more;
    end if;
    delete from warden.audit_contexts c
     where c.tx_started_at < p_now - (select min(retention) from warden.audit_tables)
       and not exists (select 1 from warden.audit_events e where e.txid = c.txid)
       and not exists (select 1 from warden.audit_events_archive e where e.txid = c.txid);
    return removed;
end
$$;
REVOKE ALL ON FUNCTION warden.audit_prune(p_batch integer, p_now timestamp with time zone) FROM PUBLIC;
