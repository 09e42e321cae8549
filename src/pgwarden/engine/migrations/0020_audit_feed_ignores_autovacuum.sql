-- The change feed's horizon (warden.running_horizon, as in 0016) also passes transactions of
-- autovacuum workers: an ANALYZE takes a transaction id (it writes pg_statistic) but never
-- writes audit events, and one on a busy catalog held the feed back for its whole run.
create or replace function warden.running_horizon() returns xid8
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select coalesce(
        (select min(x) from pg_snapshot_xip(snap.s) x
          where not exists (
                select 1 from pg_stat_activity a
                 where (a.datname is distinct from current_database()
                        or a.backend_type = 'autovacuum worker')
                   and a.backend_xid is not null
                   and a.backend_xid::text::bigint = x::text::bigint % 4294967296)
            and not exists (
                select 1 from pg_prepared_xacts p
                 where p.database <> current_database()
                   and p.transaction::text::bigint = x::text::bigint % 4294967296)),
        pg_snapshot_xmax(snap.s))
      from (select pg_current_snapshot() as s) snap
$$;
revoke all on function warden.running_horizon() from public;
