-- function warden.audit_slot_name()
-- The slot of this database (slot names are cluster-wide): readable, unique per database.
CREATE OR REPLACE FUNCTION warden.audit_slot_name() RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select 'pgwarden_audit_' || left(md5(current_database()), 16)
$$;
REVOKE ALL ON FUNCTION warden.audit_slot_name() FROM PUBLIC;
