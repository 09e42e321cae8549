-- function warden.tenant_claimed()
-- The tenant this transaction claims (pgwarden.tenant, '' as NULL), unverified: what
-- policies read under [tenancy] signed = false. Any session may claim any tenant with SET,
-- so this mode does not stand against SQL injection (see docs/tenancy.md).
CREATE OR REPLACE FUNCTION warden.tenant_claimed() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    select nullif(current_setting('pgwarden.tenant', true), '')
$$;
GRANT EXECUTE ON FUNCTION warden.tenant_claimed() TO PUBLIC;
