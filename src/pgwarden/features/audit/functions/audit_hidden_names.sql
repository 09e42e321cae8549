-- function warden.audit_hidden_names(integer)
-- The excluded and redacted columns' names as they are now (followed through renames).
CREATE OR REPLACE FUNCTION warden.audit_hidden_names(p_table_id integer) RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select t.hidden_columns || coalesce(
        (select array_agg(a.attname::text)
           from pg_attribute a
          where a.attrelid = t.relid and a.attnum = any(t.hidden_attnums)
            and not a.attisdropped), '{}')
      from warden.audit_tables t where t.table_id = p_table_id
$$;
REVOKE ALL ON FUNCTION warden.audit_hidden_names(p_table_id integer) FROM PUBLIC;
