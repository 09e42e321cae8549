-- function warden.hard_delete_allowed()
-- Whether this transaction called warden.allow_hard_delete() (for the soft-delete triggers).
CREATE OR REPLACE FUNCTION warden.hard_delete_allowed() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select coalesce(current_setting('pgwarden.hard_delete', true), '') = value
      from warden.secrets where name = 'hard_delete'
$$;
REVOKE ALL ON FUNCTION warden.hard_delete_allowed() FROM PUBLIC;
