-- function warden.audit_wal_signed(text)
-- p_payload with its MAC appended (after chr(31)): sha256(k || sha256(k || txid, payload)),
-- the transaction id as pg_current_xact_id() (64 bits, decimal). For the capture functions,
-- which run as the owner with a fixed search_path; nobody else may sign. (No SET of its
-- own: called once per writing transaction, it would cost ~6 us each time, measured.)
CREATE OR REPLACE FUNCTION warden.audit_wal_signed(p_payload text) RETURNS text
    LANGUAGE sql
    AS $$
    select pg_catalog.concat(p_payload, pg_catalog.chr(31), pg_catalog.encode(pg_catalog.sha256(
               k.secret operator(pg_catalog.||) pg_catalog.sha256(
                   k.secret operator(pg_catalog.||) pg_catalog.convert_to(pg_catalog.concat(
                       pg_catalog.pg_current_xact_id(), pg_catalog.chr(31), p_payload),
                   pg_catalog.getdatabaseencoding()))),
           'hex'))
      from warden.audit_wal_key k
$$;
REVOKE ALL ON FUNCTION warden.audit_wal_signed(p_payload text) FROM PUBLIC;
