-- function warden.tenant()
-- The tenant of this transaction, verified in C: warden_wal.tenant() (extension pgwarden_wal
-- 1.3) checks the same MAC as the SQL version (_tenant_sql.sql), once per transaction and
-- claim, and reads the key with no privilege of the caller's. A SQL-standard body that
-- PostgreSQL inlines: the policies' (select warden.tenant()) runs the C function directly,
-- with no SECURITY DEFINER call or search_path to set, and nothing is looked up by name when
-- it is inlined (the application role needs no USAGE on schema warden_wal). Depends on the
-- extension, which is kept while it does.
CREATE OR REPLACE FUNCTION warden.tenant() RETURNS text
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    RETURN warden_wal.tenant();
GRANT EXECUTE ON FUNCTION warden.tenant() TO PUBLIC;
