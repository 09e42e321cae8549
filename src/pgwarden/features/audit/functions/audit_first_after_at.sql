-- function warden.audit_first_after_at(integer,timestamp with time zone)
-- For each row key of a table: the first event after p_at (whether the row was present
-- before it, its image then, and when), by the query warden.audit_first_after_sql() builds.
CREATE OR REPLACE FUNCTION warden.audit_first_after_at(p_table_id integer, p_at timestamp with time zone) RETURNS TABLE(row_key jsonb, present boolean, row_data jsonb, at timestamp with time zone)
    LANGUAGE plpgsql STABLE
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    return query execute 'with ' || warden.audit_first_after_sql()
        || ' select s.row_key, s.present, s.row_data, s.at from s'
    using p_table_id, p_at, null::int, 'infinity'::timestamptz;
end
$$;
REVOKE ALL ON FUNCTION warden.audit_first_after_at(p_table_id integer, p_at timestamp with time zone) FROM PUBLIC;
