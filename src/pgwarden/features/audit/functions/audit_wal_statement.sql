-- function warden.audit_wal_statement()
-- The trigger pgwarden_audit_w of every table captured from the WAL (BEFORE INSERT OR UPDATE
-- OR DELETE, each statement). It runs as the caller, with no settings of its own: a
-- SECURITY DEFINER function with SET search_path costs ~10 us more per call, on every
-- statement. It only tests the flag; warden_wal.context() (which re-tests it as the owner)
-- sends. A caller tampering with what this test sees only keeps its own context out, as
-- forging the flag would.
CREATE OR REPLACE FUNCTION warden.audit_wal_statement() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
declare
    said text;
begin
    if pg_catalog.current_setting('pgwarden._said', true) is distinct from warden_wal.said() then
        said := warden_wal.context();
    end if;
    return null;
end
$$;
