-- function warden.audit_expired_partitions(timestamp with time zone)
-- Whole partitions of either store that ended before p_now and whose every event is past
-- its table's retention (an emptied month or year qualifies; a partition holding an event of
-- a table without retention stays; the current and future ones and the default never
-- qualify). One partition at a time, each scan stopping at its first event still kept:
-- never a join of the whole store.
CREATE OR REPLACE FUNCTION warden.audit_expired_partitions(p_now timestamp with time zone DEFAULT now()) RETURNS SETOF regclass
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    part regclass;
    kept boolean;
begin
    for part in
        select c.oid::regclass
          from pg_inherits i join pg_class c on c.oid = i.inhrelid
         where i.inhparent in ('warden.audit_events'::regclass,
                               'warden.audit_events_archive'::regclass)
           and substring(pg_get_expr(c.relpartbound, c.oid) from $re$TO \('([^']+)'\)$re$)
               ::timestamptz <= p_now
         order by c.relname
    loop
        execute format('select exists (select 1 from %s e left join warden.audit_tables t '
                       'on t.table_id = e.table_id '
                       'where t.retention is null or e.at >= $1 - t.retention)', part)
           into kept using p_now;
        if not kept then
            return next part;
        end if;
    end loop;
end
$_$;
REVOKE ALL ON FUNCTION warden.audit_expired_partitions(p_now timestamp with time zone) FROM PUBLIC;
