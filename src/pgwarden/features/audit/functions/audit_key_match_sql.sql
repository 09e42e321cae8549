-- function warden.audit_key_match_sql(integer,text,text)
-- SQL true when live row p_live has the key p_key (a jsonb key expression): the key columns
-- compared typed when each is a plain scalar (number, string, date/time, boolean, uuid),
-- which hashes the live table's rows without building a jsonb per row; else as jsonb.
CREATE OR REPLACE FUNCTION warden.audit_key_match_sql(p_table_id integer, p_key text, p_live text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select case
        when names is not null and cardinality(names) = cardinality(t.key_types)
             and (select bool_and(ty.typcategory in ('N', 'S', 'D', 'B')
                                  or ty.oid = 'uuid'::regtype)
                    from unnest(t.key_types) kt(name)
                    join pg_type ty on ty.oid = to_regtype(kt.name))
             and (select count(*) from unnest(t.key_types) kt(name)
                   where to_regtype(kt.name) is not null) = cardinality(names)
        then (select string_agg(format('(%s ->> %s)::%s = %I.%I', p_key, o - 1, kt, p_live, c),
                                ' and ' order by o)
                from unnest(names, t.key_types) with ordinality k(c, kt, o))
        else format('%s = %s', p_key, warden.audit_key_sql(p_table_id, p_live))
        end
      from warden.audit_tables t, warden.audit_key_names(p_table_id) names
     where t.table_id = p_table_id
$$;
REVOKE ALL ON FUNCTION warden.audit_key_match_sql(p_table_id integer, p_key text, p_live text) FROM PUBLIC;
