-- function warden.audit_key_where(integer,jsonb,text)
-- SQL true for the live row (alias p_alias) at key p_key, given to the query as $1. Each key
-- column is compared with its value cast from the key to the column's type (no typmod: a
-- cast never truncates), when it is a plain scalar (number, string, date/time, boolean,
-- uuid, a domain over one) and the key's values are scalars: the table's key index serves
-- that. A jsonb built from each row and compared with the key, the form otherwise used (rows
-- identified by their whole content, other key types, a null in the key: null = null
-- there), reads the whole table on every lookup: a revert of N rows read it N times. Typed,
-- a timestamptz key also matches whatever TimeZone rendered it.
CREATE OR REPLACE FUNCTION warden.audit_key_where(p_table_id integer, p_key jsonb, p_alias text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select coalesce(
        (select string_agg(format('%I.%I = ($1 ->> %s)::%s', p_alias, a.attname, k.o - 1,
                                  format_type(a.atttypid, null)), ' and ' order by k.o)
           from unnest(t.key_attnums) with ordinality k(attnum, o)
           join pg_attribute a on a.attrelid = t.relid and a.attnum = k.attnum
                              and not a.attisdropped
           join pg_type ty on ty.oid = a.atttypid
          where case when jsonb_typeof(p_key) = 'array' then jsonb_array_length(p_key) end
                = cardinality(t.key_attnums)
         having count(*) = cardinality(t.key_attnums)
            -- A number is a JSON number only for the numeric types (not oid, reg*, money).
            and bool_and(case ty.typcategory
                             when 'N' then jsonb_typeof(p_key -> (k.o - 1)::int) = 'number'
                             when 'S' then jsonb_typeof(p_key -> (k.o - 1)::int) = 'string'
                             when 'D' then jsonb_typeof(p_key -> (k.o - 1)::int) = 'string'
                             when 'B' then jsonb_typeof(p_key -> (k.o - 1)::int) = 'boolean'
                             else ty.oid = 'uuid'::regtype
                                  and jsonb_typeof(p_key -> (k.o - 1)::int) = 'string'
                         end)),
        format('%s = $1', warden.audit_key_sql(p_table_id, p_alias)))
      from warden.audit_tables t
     where t.table_id = p_table_id
$$;
REVOKE ALL ON FUNCTION warden.audit_key_where(p_table_id integer, p_key jsonb, p_alias text) FROM PUBLIC;
