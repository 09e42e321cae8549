-- function warden.applying()
-- Whether this transaction is pgwarden's apply (or a scoped apply of a feature's work): the
-- public signal an event trigger of any feature reads to leave to the plan what the plan
-- does itself. Set with the transaction-local setting pgwarden.applying (see
-- pgwarden.engine.APPLYING); a session that sets it by hand only keeps its own DDL from
-- such triggers until the next apply, which the plan then shows.
create or replace function warden.applying() returns boolean
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select coalesce(current_setting('pgwarden.applying', true), '') = 'on'
$$;
