-- function warden.allow_hard_delete()
-- A real DELETE (or TRUNCATE) of a soft-deletable table is allowed only in a transaction that
-- called this. It puts a secret into a transaction-local setting that the soft-delete triggers
-- compare with their copy: a session cannot forge it with SET pgwarden.hard_delete, because it
-- cannot read the secret. EXECUTE on the function is the privilege (revoked from PUBLIC; grant
-- it to the roles that may purge).
CREATE OR REPLACE FUNCTION warden.allow_hard_delete() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    perform set_config('pgwarden.hard_delete',
                       (select value from warden.secrets where name = 'hard_delete'), true);
end
$$;
REVOKE ALL ON FUNCTION warden.allow_hard_delete() FROM PUBLIC;
