-- function warden.audit_key(text,text[])
-- A key as the capture records it, from text parts ('42', '2026-01-01'): each part is cast
-- to its key column's type first, so the jsonb matches exactly (42, not "42").
CREATE OR REPLACE FUNCTION warden.audit_key(p_table text, p_parts text[]) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    t warden.audit_tables;
    result jsonb;
    names text[];
begin
    select * into t from warden.audit_tables where table_id = warden.audit_table_id(p_table);
    if t.key_columns is null then
        raise exception 'pgwarden: % has no key (rows are identified by their content)', p_table;
    end if;
    if coalesce(array_length(p_parts, 1), 0) <> array_length(t.key_columns, 1) then
        raise exception 'pgwarden: the key of % is (%); got % value(s)', p_table,
            array_to_string(t.key_columns, ', '), coalesce(array_length(p_parts, 1), 0)
            using errcode = 'invalid_parameter_value';
    end if;
    if exists (select 1 from pg_class c where c.oid = t.relid) then
        -- Cast through the table's own row type (right whatever the search_path), using the
        -- key columns' current names (found by attribute number: they may have been renamed).
        names := warden.audit_key_names(t.table_id);
        execute format('select jsonb_build_array(%s) from jsonb_populate_record(null::%s, $1) r',
                       (select string_agg(format('to_jsonb(r.%I)', c), ', ' order by o)
                          from unnest(names) with ordinality u(c, o)),
                       t.relid::regclass)
           into result using jsonb_object(names, p_parts);
        return result;
    end if;
    -- A dropped table: key_types come from format_type() at registration.
    execute 'select jsonb_build_array(' || (
        select string_agg(format('$1[%s]::%s', i, t.key_types[i]), ', ' order by i)
          from generate_subscripts(t.key_columns, 1) i) || ')'
       into result using p_parts;
    return result;
end
$_$;
REVOKE ALL ON FUNCTION warden.audit_key(p_table text, p_parts text[]) FROM PUBLIC;
