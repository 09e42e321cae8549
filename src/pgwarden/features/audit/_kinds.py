"""The object kinds audit adds to the engine's: its registration row, a table's REPLICA
IDENTITY FULL, and a table's membership of its publication."""

from __future__ import annotations

from pgwarden.engine import Kind

KINDS: list[Kind] = [
    Kind(
        "registration",
        25,
        # Column names that differ from the last recorded ones (renamed while audit's
        # event trigger was absent) make it "altered": apply records them.
        """select md5(coalesce(key_columns::text, '') || coalesce(key_types::text, '')
              || hidden_columns::text || coalesce(retention::text, '')
              || schema_name || '.' || table_name)
              || case when exists (
                 select 1 from pg_attribute a
                  where a.attrelid = t.relid and a.attnum > 0
                    and (select c.name from warden.audit_columns c
                          where c.table_id = t.table_id and c.attnum = a.attnum
                          order by c.since desc limit 1)
                        is distinct from
                        (case when not a.attisdropped then a.attname::text end))
             then ' (column names changed, not recorded)' else '' end
           from warden.audit_tables t
           where schema_name = %(rel_schema)s and table_name = %(rel_name)s
         and dropped_at is null
           order by registered_at desc limit 1""",
        or_replace=True,  # its INSERT ... ON CONFLICT DO UPDATE updates in place
        drop_lock=None,
        needs="warden.audit_columns",  # and warden.audit_tables
        on_relation=True,
    ),
    # How UPDATE and DELETE log the old row: FULL puts every column in the WAL (audit's
    # WAL capture reads them there). Already FULL (set by hand, or on a new partition by
    # audit's event trigger): taken over, its ALTER TABLE sets it again in place.
    Kind(
        "replica_identity",
        45,
        "select 'full' from pg_class where oid = to_regclass(%(regclass)s) and relreplident = 'f'",
        or_replace=True,
        on_relation=True,
    ),
    # A table's membership of a publication (named by the object's name). Audit's is read
    # through this database's slot: without the slot, membership captures nothing, so a
    # slot dropped by hand shows the membership as missing (apply makes the slot again).
    Kind(
        "publication_table",
        46,
        """select 'member' from pg_publication_rel r
           join pg_publication p on p.oid = r.prpubid
           where p.pubname = %(name)s and r.prrelid = to_regclass(%(regclass)s)
         and (p.pubname <> 'pgwarden_audit' or exists (
              select 1 from pg_replication_slots s
               where s.slot_name = warden.audit_slot_name()))""",
        drop_lock="SHARE UPDATE EXCLUSIVE",
        needs="warden.audit_wal",  # with warden.audit_slot_name()
        on_relation=True,
    ),
]
