-- function warden.audit_current_row(text,jsonb)
-- The live row at p_key, as jsonb (NULL when there is none, or the table is gone).
CREATE OR REPLACE FUNCTION warden.audit_current_row(p_table text, p_key jsonb) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    tid int := warden.audit_table_id(p_table);
    rel regclass := (select relid::regclass from warden.audit_tables where table_id = tid);
    result jsonb;
begin
    if rel is null then
        return null;
    end if;
    execute format('select to_jsonb(c.*) from %s c where %s', rel,
                   warden.audit_key_where(tid, p_key, 'c'))
       into result using p_key;
    return result;
end
$_$;
REVOKE ALL ON FUNCTION warden.audit_current_row(p_table text, p_key jsonb) FROM PUBLIC;
