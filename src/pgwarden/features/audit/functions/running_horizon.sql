-- function warden.running_horizon()
-- The oldest transaction still running in this database (or prepared), as the change feed's
-- horizon. Transactions of autovacuum workers are passed: an ANALYZE takes a transaction id
-- (it writes pg_statistic) but never writes audit events, and one on a busy catalog held the
-- feed back for its whole run.
CREATE OR REPLACE FUNCTION warden.running_horizon() RETURNS xid8
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
REVOKE ALL ON FUNCTION warden.running_horizon() FROM PUBLIC;
