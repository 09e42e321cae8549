-- function warden.tenant()
-- The tenant of this transaction, verified: pgwarden.tenant when pgwarden.tenant_mac is the
-- HMAC-SHA256, under the database's tenancy key, of '<backend pid>:<transaction start in
-- microseconds since 1970>:<tenant>'; NULL otherwise, so policies show no row and refuse
-- every write. The MAC binds the claim to this backend and this transaction: a MAC read by
-- an injected statement is worthless in any other transaction, and a forged or reset
-- pgwarden.tenant no longer matches. SECURITY DEFINER so the key in warden.secrets stays
-- unreadable to the sessions it judges; no function signs (no oracle). Policies call it as
-- (select warden.tenant()), once per statement.
CREATE OR REPLACE FUNCTION warden.tenant() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select c.claimed
      from (select nullif(current_setting('pgwarden.tenant', true), '') as claimed,
                   nullif(current_setting('pgwarden.tenant_mac', true), '') as mac) c
     where c.claimed is not null
       and c.mac = encode(sha256(
               decode((select value from warden.secrets where name = 'tenancy_opad'), 'hex')
               || sha256(decode((select value from warden.secrets where name = 'tenancy_ipad'), 'hex')
                         || convert_to(pg_backend_pid()::text || ':'
                                       || (extract(epoch from transaction_timestamp()) * 1000000)::bigint::text
                                       || ':' || c.claimed, 'UTF8'))), 'hex')
$$;
GRANT EXECUTE ON FUNCTION warden.tenant() TO PUBLIC;
