-- function warden_wal.said()
-- The context of this transaction as a short text to compare (see warden_wal.context).
CREATE OR REPLACE FUNCTION warden_wal.said() RETURNS text
    LANGUAGE sql
    AS $$
    select pg_catalog.concat(pg_catalog.pg_current_xact_id_if_assigned(), pg_catalog.chr(31),
        pg_catalog.current_setting('pgwarden.actor', true), pg_catalog.chr(31),
        pg_catalog.current_setting('pgwarden.tenant', true), pg_catalog.chr(31),
        pg_catalog.current_setting('pgwarden.reason', true), pg_catalog.chr(31),
        pg_catalog.current_setting('pgwarden.request_id', true), pg_catalog.chr(31),
        pg_catalog.current_setting('application_name'), pg_catalog.chr(31),
        pg_catalog.current_setting('role'))
$$;
