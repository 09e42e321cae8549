-- function warden.versions(integer)
-- Every version of every row of a table, each version's row in the current names, for the
-- versioning feature's typed views (history() keeps each version in the shape it was
-- recorded in).
CREATE OR REPLACE FUNCTION warden.versions(p_table_id integer) RETURNS TABLE(row_key jsonb, version integer, valid_from timestamp with time zone, valid_to timestamp with time zone, op text, row_data jsonb, actor text, tenant text, reason text, request_id text, txid xid8, event_id bigint)
    LANGUAGE sql STABLE
    AS $$
    with spans as materialized (select * from warden.audit_rename_spans(p_table_id, '-infinity'))
    select f.row_key,
           row_number() over w::int,
           f.at,
           lead(f.at) over w,
           case f.op when 'I' then 'insert' when 'D' then 'delete'
                     else case when f.present_after then 'update' else 'update (key moved away)' end
           end,
           case when f.row_after is null or not exists (select 1 from spans) then f.row_after
                else warden.audit_rename_image(f.row_after,
                     (select s.moves from spans s where f.at >= s.from_at and f.at < s.to_at))
           end,
           c.actor, c.tenant, c.reason, c.request_id, f.txid, f.event_id
      from warden.audit_facts(p_table_id) f
      left join warden.audit_contexts c
        on c.txid = f.txid and c.context_seq = f.context_seq
    window w as (partition by f.row_key order by f.statement_id, f.phase, f.event_id)
$$;
REVOKE ALL ON FUNCTION warden.versions(p_table_id integer) FROM PUBLIC;
