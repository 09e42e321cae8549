-- function warden.feed_horizon()
-- As in 0005, and also held back by the WAL ingester: a transaction committed but not yet
-- ingested gets its events later, under its own (older) transaction id, so the feed must
-- not pass it. While this database has its slot, the feed stops at the ingester's horizon.
CREATE OR REPLACE FUNCTION warden.feed_horizon() RETURNS xid8
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select least(
        warden.running_horizon(),
        (select coalesce((select w.horizon from warden.audit_wal w
                           where w.slot_name = s.slot_name), '0'::xid8)
           from pg_replication_slots s where s.slot_name = warden.audit_slot_name()))
$$;
REVOKE ALL ON FUNCTION warden.feed_horizon() FROM PUBLIC;
