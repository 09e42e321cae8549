-- function warden.audit_first_after_sql()
-- The query behind audit_first_after_at and as_of: per row key, the first event after a
-- time ($2) and at or before another ($4: infinity, or a checkpoint's time), in both stores;
-- s is not materialized (as_of reads it once).
CREATE OR REPLACE FUNCTION warden.audit_first_after_sql() RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $_$
    select $q$
    firsts as materialized (
        select distinct on (f.h, f.k) f.k, f.event_id, f.phase
          from (select e.event_id, e.statement_id, x.k, x.phase, jsonb_hash(x.k) as h
                  from warden.audit_events_all e
                 cross join lateral (values (e.row_key, 1), (e.old_key, 0)) x(k, phase)
                 where e.table_id = $1 and e.at > $2 and e.at <= $4 and e.op <> 'T'
                   and x.k is not null) f
         order by f.h, f.k, f.statement_id, f.phase, f.event_id
    ),
    -- As warden.audit_facts_all describes the state before each event.
    s as (
        select w.k as row_key,
               w.phase = 0 or e.op = 'D' or (e.op = 'U' and e.old_key is null) as present,
               case when w.phase = 0 then e.new_row || e.old_row
                    when e.op = 'D' then e.old_row
                    when e.op = 'U' and e.old_key is null then e.new_row || e.old_row
               end as row_data,
               e.at
          from firsts w
          join warden.audit_events_all e on e.event_id = w.event_id
         where e.table_id = $1 and e.at > $2 and e.at <= $4
    )$q$
$_$;
REVOKE ALL ON FUNCTION warden.audit_first_after_sql() FROM PUBLIC;
