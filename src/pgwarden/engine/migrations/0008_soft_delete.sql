-- Soft delete: deletion identities, and the privileged path to a real DELETE.

-- Every soft delete gets a number; the rows its cascade marks carry the same one, so a
-- restore brings back exactly what that delete removed.
create sequence warden.deletion_ids;

-- A real DELETE (or TRUNCATE) of a soft-deletable table is allowed only in a transaction that
-- called warden.allow_hard_delete(). It puts a secret into a transaction-local setting that
-- the soft-delete triggers compare with their copy: a session cannot forge it with
-- SET pgwarden.hard_delete, because it cannot read the secret. EXECUTE on the function is
-- the privilege (revoked from PUBLIC; grant it to the roles that may purge).
insert into warden.secrets values ('hard_delete', md5(random()::text || clock_timestamp()::text)
                                                  || md5(random()::text || pg_backend_pid()));

create function warden.allow_hard_delete() returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    perform set_config('pgwarden.hard_delete',
                       (select value from warden.secrets where name = 'hard_delete'), true);
end
$$;
revoke all on function warden.allow_hard_delete() from public;

create function warden.hard_delete_allowed() returns boolean
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select coalesce(current_setting('pgwarden.hard_delete', true), '') = value
      from warden.secrets where name = 'hard_delete'
$$;
revoke all on function warden.hard_delete_allowed() from public;
