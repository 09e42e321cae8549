-- function warden.running_horizon()
-- The oldest transaction still running in this database (or prepared), as the change feed's
-- horizon: every transaction of this database with a lower id had ended when a snapshot
-- taken during this call was taken, so a statement started after the call sees all of them.
-- Volatile, and for use in a LATER statement: in READ COMMITTED a statement's own snapshot
-- is older than the one taken here, and a transaction that committed in between is below
-- the horizon but not visible to it (warden.changes_after reads its events after taking
-- the horizon). In REPEATABLE READ both are the transaction's snapshot.
-- Transactions of other databases are passed when pg_stat_activity (or pg_prepared_xacts)
-- names them; it is read BEFORE the snapshot, so one that ended in between is not in the
-- snapshot at all (read after it, such a transaction was no longer named and held the
-- horizon back). One that started in between still holds it back, for that call: never
-- passed unnamed. Transactions of autovacuum workers are passed too: an ANALYZE takes a
-- transaction id (it writes pg_statistic) but never writes audit events, and one on a busy
-- catalog held the feed back for its whole run.
CREATE OR REPLACE FUNCTION warden.running_horizon() RETURNS xid8
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    -- 32-bit ids: what pg_stat_activity and pg_prepared_xacts show.
    elsewhere bigint[];
begin
    -- pg_stat_activity is read once per transaction and kept: read it afresh, so that
    -- "before the snapshot" is just before.
    perform pg_stat_clear_snapshot();
    elsewhere := array(
        select a.backend_xid::text::bigint from pg_stat_activity a
         where (a.datname is distinct from current_database()
                or a.backend_type = 'autovacuum worker')
           and a.backend_xid is not null
        union all
        select p.transaction::text::bigint from pg_prepared_xacts p
         where p.database <> current_database());
    -- A statement of its own, so a snapshot of its own (this function is volatile): taken
    -- after the reads above.
    return (
        select coalesce(
            (select min(x) from pg_snapshot_xip(snap.s) x
              where (x::text::bigint % 4294967296) <> all (elsewhere)),
            pg_snapshot_xmax(snap.s))
          from (select pg_current_snapshot() as s) snap);
end
$$;
REVOKE ALL ON FUNCTION warden.running_horizon() FROM PUBLIC;
