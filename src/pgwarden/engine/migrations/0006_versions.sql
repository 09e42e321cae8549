-- Every version of every row of one audited table (for the versioning feature's views).
-- Numbered like warden.history(): 1 is the first recorded change of that key.
create function warden.versions(p_table_id int)
returns table (
    row_key jsonb, version int, valid_from timestamptz, valid_to timestamptz, op text,
    row_data jsonb, actor text, tenant text, reason text, request_id text, txid xid8,
    event_id bigint
)
language sql stable
as $$
    select f.row_key,
           row_number() over w::int,
           f.at,
           lead(f.at) over w,
           case f.op when 'I' then 'insert' when 'D' then 'delete'
                     else case when f.present_after then 'update' else 'update (key moved away)' end
           end,
           f.row_after, c.actor, c.tenant, c.reason, c.request_id, f.txid, f.event_id
      from warden.audit_facts(p_table_id) f
      left join warden.audit_contexts c
        on c.txid = f.txid and c.context_seq = f.context_seq
    window w as (partition by f.row_key order by f.statement_id, f.phase, f.event_id)
$$;

revoke all on all functions in schema warden from public;

-- The key of a row image by the key columns' current names (found by their attribute
-- numbers): the fallback of capture functions whose key columns were renamed since they were
-- generated. Key columns dropped: the live primary key; none: the image itself.
create function warden.audit_live_key(p_rel oid, p_image jsonb) returns jsonb
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    with reg as (
        select t.relid, t.key_attnums from warden.audit_tables t
         where t.relid = p_rel or t.relid in (select a.relid from pg_partition_ancestors(p_rel) a)
         order by t.relid = p_rel desc limit 1
    )
    select coalesce(
        (select jsonb_agg(p_image -> a.attname order by k.ord)
           from reg
          cross join lateral unnest(reg.key_attnums) with ordinality k(attnum, ord)
           join pg_attribute a on a.attrelid = reg.relid and a.attnum = k.attnum
                              and not a.attisdropped
         having count(*) = max(cardinality(reg.key_attnums))),
        (select jsonb_agg(p_image -> a.attname order by k.ord)
           from reg
           join pg_index i on i.indrelid = reg.relid and i.indisprimary
          cross join lateral unnest(i.indkey) with ordinality k(attnum, ord)
           join pg_attribute a on a.attrelid = reg.relid and a.attnum = k.attnum),
        p_image)
$$;
revoke all on function warden.audit_live_key(oid, jsonb) from public;
