-- function warden.feed_horizon()
-- How far the change feed may go: below every transaction still running in this database
-- (warden.running_horizon), and, while this database has its WAL slot, below the ingester's
-- horizon: a transaction committed but not yet ingested gets its events later, under its own
-- (older) transaction id, so the feed must not pass it. Like running_horizon, for a LATER
-- statement to read below (volatile: never computed inside the statement reading the events).
CREATE OR REPLACE FUNCTION warden.feed_horizon() RETURNS xid8
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select least(
        warden.running_horizon(),
        (select coalesce((select w.horizon from warden.audit_wal w
                           where w.slot_name = s.slot_name), '0'::xid8)
           from pg_replication_slots s where s.slot_name = warden.audit_slot_name()))
$$;
REVOKE ALL ON FUNCTION warden.feed_horizon() FROM PUBLIC;
