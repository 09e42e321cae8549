-- function warden.audit_moves(integer,timestamp with time zone)
-- How to bring an image captured at p_at to the current names: {name then: name now}, a
-- JSON null for a column dropped since, for every column renamed or dropped after p_at.
-- NULL when there is nothing to translate.
CREATE OR REPLACE FUNCTION warden.audit_moves(p_table_id integer, p_at timestamp with time zone) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select jsonb_object_agg(b.name, c.name)
      from (select distinct on (x.attnum) x.attnum, x.name from warden.audit_columns x
             where x.table_id = p_table_id and x.since <= p_at
             order by x.attnum, x.since desc) b
      join (select distinct on (x.attnum) x.attnum, x.name, x.since from warden.audit_columns x
             where x.table_id = p_table_id
             order by x.attnum, x.since desc) c on c.attnum = b.attnum
     where b.name is not null and c.since > p_at
$$;
REVOKE ALL ON FUNCTION warden.audit_moves(p_table_id integer, p_at timestamp with time zone) FROM PUBLIC;
