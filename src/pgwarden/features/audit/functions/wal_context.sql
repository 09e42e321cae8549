-- function warden_wal.context()
-- Sends this transaction's context (signed) if it has not been sent as it is now, and
-- remembers it in the flag. Anyone may call it: it only ever says the truth about the
-- caller (who runs the transaction as the database knows it, and what it declares).
CREATE OR REPLACE FUNCTION warden_wal.context() RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    sent pg_lsn;
begin
    if current_setting('pgwarden._said', true) is not distinct from warden_wal.said() then
        return null;
    end if;
    sent := pg_logical_emit_message(true, 'pgwarden.audit', warden.audit_wal_signed(
        'C' || json_build_array(
            session_user,
            -- SECURITY DEFINER hides the caller's current_user; SET ROLE shows here.
            coalesce(nullif(current_setting('role'), 'none'), session_user),
            host(inet_client_addr()), pg_backend_pid(),
            nullif(current_setting('pgwarden.actor', true), ''),
            nullif(current_setting('pgwarden.tenant', true), ''),
            nullif(current_setting('pgwarden.reason', true), ''),
            nullif(current_setting('pgwarden.request_id', true), ''),
            current_setting('application_name'), now())::text));
    -- The transaction has its id now (the message took one): the flag holds it.
    return set_config('pgwarden._said', warden_wal.said(), true);
end
$$;
