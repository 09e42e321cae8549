-- baseline: legacy 24
-- Soft delete's state (single-stream migration 0008 before streams).

-- Every soft delete gets a number; the rows its cascade marks carry the same one, so a
-- restore brings back exactly what that delete removed.
create sequence warden.deletion_ids;

-- The token of a real DELETE (see ../functions/allow_hard_delete.sql).
insert into warden.secrets values ('hard_delete', md5(random()::text || clock_timestamp()::text)
                                                  || md5(random()::text || pg_backend_pid()))
on conflict do nothing;
