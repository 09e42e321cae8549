-- function warden.audit_table_id(text)
-- The table_id of an audited table, by its name (as regclass text or schema.name), live
-- or dropped; an error naming the table when it was never audited.
CREATE OR REPLACE FUNCTION warden.audit_table_id(p_table text) RETURNS integer
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    found_id int;
    parts text[];
begin
    select table_id into found_id from warden.audit_tables where relid = to_regclass(p_table);
    if found_id is not null then
        return found_id;
    end if;
    -- A dropped table keeps its history: find it by name (latest registration wins).
    parts := parse_ident(p_table);
    if array_length(parts, 1) = 1 then
        parts := array['public', parts[1]];
    end if;
    select table_id into found_id from warden.audit_tables
     where schema_name = parts[1] and table_name = parts[2]
     order by registered_at desc limit 1;
    if found_id is null then
        raise exception 'pgwarden: % is not audited', p_table
            using errcode = 'undefined_table',
                  hint = 'declare audit = true for it in pgwarden.toml and apply';
    end if;
    return found_id;
end
$$;
REVOKE ALL ON FUNCTION warden.audit_table_id(p_table text) FROM PUBLIC;
