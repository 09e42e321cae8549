-- function warden.audit_first_after(integer,timestamp with time zone)
-- For a table that exists: each key changed after p_at, and what it was just before its
-- first change after p_at. Every other row is now as it was then. Cost follows the amount of
-- change since p_at, not the size of the history (BRIN on at).
CREATE OR REPLACE FUNCTION warden.audit_first_after(p_table_id integer, p_at timestamp with time zone) RETURNS TABLE(row_key jsonb, present boolean, row_data jsonb)
    LANGUAGE sql STABLE
    AS $$
    select f.row_key, f.present, f.row_data from warden.audit_first_after_at(p_table_id, p_at) f
$$;
REVOKE ALL ON FUNCTION warden.audit_first_after(p_table_id integer, p_at timestamp with time zone) FROM PUBLIC;
