-- function warden.audit_live_key(oid,jsonb)
-- The key of a row image by the key columns' current names (found by their attribute
-- numbers): the fallback of capture functions whose key columns were renamed since they were
-- generated. Key columns dropped: the live primary key; none: the image itself.
CREATE OR REPLACE FUNCTION warden.audit_live_key(p_rel oid, p_image jsonb) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
REVOKE ALL ON FUNCTION warden.audit_live_key(p_rel oid, p_image jsonb) FROM PUBLIC;
