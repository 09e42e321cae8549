-- Retention: events older than a table's `retention` are deleted in batches.
alter table warden.audit_tables add column retention interval;

-- Delete up to p_batch events older than their table's retention; returns how many went.
-- Call it repeatedly until it returns less than p_batch (each call is one short transaction
-- when called in autocommit). Context rows left without events go too.
create function warden.audit_prune(p_batch int default 10000) returns bigint
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    removed bigint;
begin
    with doomed as (
        select e.ctid from warden.audit_events e
          join warden.audit_tables t on t.table_id = e.table_id
         where t.retention is not null and e.at < now() - t.retention
         limit p_batch
    )
    delete from warden.audit_events e using doomed d where e.ctid = d.ctid;
    get diagnostics removed = row_count;
    delete from warden.audit_contexts c
     where c.tx_started_at < now() - (select min(retention) from warden.audit_tables)
       and not exists (select 1 from warden.audit_events e where e.txid = c.txid);
    return removed;
end
$$;
revoke all on function warden.audit_prune(int) from public;
