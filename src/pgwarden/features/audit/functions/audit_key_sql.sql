-- function warden.audit_key_sql(integer,text)
-- SQL that computes a row's key as jsonb, for dynamic queries over the live table.
CREATE OR REPLACE FUNCTION warden.audit_key_sql(p_table_id integer, p_alias text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select case
        when names is null then format('to_jsonb(%I.*)', p_alias)
        else 'jsonb_build_array(' || (
            select string_agg(format('%I.%I', p_alias, c), ', ' order by o)
              from unnest(names) with ordinality k(c, o)) || ')'
        end
      from warden.audit_key_names(p_table_id) names
$$;
REVOKE ALL ON FUNCTION warden.audit_key_sql(p_table_id integer, p_alias text) FROM PUBLIC;
