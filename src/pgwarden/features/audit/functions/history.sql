-- function warden.history(text,jsonb)
-- Every version of one row, oldest first. Version 0 is the row as it was before auditing
-- began, when it already existed then. Each image with its generated columns computed.
CREATE OR REPLACE FUNCTION warden.history(p_table text, p_key jsonb) RETURNS TABLE(version integer, valid_from timestamp with time zone, valid_to timestamp with time zone, op text, row_data jsonb, changed text[], actor text, tenant text, reason text, request_id text, txid xid8, event_id bigint)
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
begin
    return query
    with g as (select warden.audit_generated_sql(warden.audit_table_id(p_table), '$1', false) as q),
    f as (
        select f.statement_id, f.phase, f.event_id, f.at, f.op, f.txid, f.context_seq,
               f.present_before, f.present_after,
               case when g.q is null then f.row_before else warden.audit_generated(f.row_before, g.q) end
                   as row_before,
               case when g.q is null then f.row_after else warden.audit_generated(f.row_after, g.q) end
                   as row_after,
               row_number() over (order by f.statement_id, f.phase, f.event_id) as n
          from warden.audit_facts(warden.audit_table_id(p_table), p_key) f, g
    ),
    origin as (
        select 0::int as version, null::timestamptz as valid_from, f.at as valid_to,
               'existing'::text as op, f.row_before as row_data, null::text[] as changed,
               null::text as actor, null::text as tenant, null::text as reason,
               null::text as request_id, null::xid8 as txid, null::bigint as event_id
          from f where f.n = 1 and f.present_before
    )
    select * from origin
    union all
    select f.n::int, f.at, lead(f.at) over (order by f.n),
           case f.op when 'I' then 'insert' when 'D' then 'delete'
                     else case when f.present_after then 'update' else 'update (key moved away)' end
           end,
           f.row_after,
           case when f.present_before and f.present_after then
               array(select k from jsonb_object_keys(f.row_after || f.row_before) k
                      where f.row_after -> k is distinct from f.row_before -> k order by k)
           end,
           c.actor, c.tenant, c.reason, c.request_id, f.txid, f.event_id
      from f left join warden.audit_contexts c
        on c.txid = f.txid and c.context_seq = f.context_seq
     order by 1;
end
$$;
REVOKE ALL ON FUNCTION warden.history(p_table text, p_key jsonb) FROM PUBLIC;
