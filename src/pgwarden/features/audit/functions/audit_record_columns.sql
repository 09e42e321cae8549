-- function warden.audit_record_columns(oid[],timestamp with time zone)
-- Records the columns of registered tables whose names differ from the latest recorded ones
-- (renamed, dropped, added). p_relids: the tables to look at (NULL: every registered one).
-- A column first seen now is dated p_first (-infinity at registration: it has always had
-- that name as far as the store knows; the time of the ALTER for an added column).
CREATE OR REPLACE FUNCTION warden.audit_record_columns(p_relids oid[], p_first timestamp with time zone) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    insert into warden.audit_columns (table_id, attnum, name, since, txid)
    select t.table_id, a.attnum, case when not a.attisdropped then a.attname::text end,
           case when last.known then clock_timestamp() else p_first end,
           pg_current_xact_id()
      from warden.audit_tables t
      join pg_attribute a on a.attrelid = t.relid and a.attnum > 0
      left join lateral (
            select true as known, c.name from warden.audit_columns c
             where c.table_id = t.table_id and c.attnum = a.attnum
             order by c.since desc limit 1) last on true
     where t.dropped_at is null
       and (p_relids is null or t.relid = any(p_relids))
       and case when last.known
                then last.name is distinct from
                     (case when not a.attisdropped then a.attname::text end)
                else not a.attisdropped end
$$;
REVOKE ALL ON FUNCTION warden.audit_record_columns(p_relids oid[], p_first timestamp with time zone) FROM PUBLIC;
