-- function warden.audit_key_names(integer)
-- The key columns' names as they are now: found by attribute number, so a renamed key
-- column is followed (as recorded at registration when the table is gone).
CREATE OR REPLACE FUNCTION warden.audit_key_names(p_table_id integer) RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select coalesce(
        (select array_agg(a.attname::text order by k.o)
           from unnest(t.key_attnums) with ordinality k(attnum, o)
           join pg_attribute a on a.attrelid = t.relid and a.attnum = k.attnum
                              and not a.attisdropped
         having count(*) = cardinality(t.key_attnums)),
        t.key_columns)
      from warden.audit_tables t where t.table_id = p_table_id
$$;
REVOKE ALL ON FUNCTION warden.audit_key_names(p_table_id integer) FROM PUBLIC;
