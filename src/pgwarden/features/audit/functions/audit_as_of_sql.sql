-- function warden.audit_as_of_sql(integer,timestamp with time zone,text,text,text,timestamp with time zone)
-- The query of a whole table as it was at p_at, used by as_of and by
-- warden.audit_checkpoint_take. Its parameters: $1 table id, $2 p_at, $4 the time the rows of
-- p_from (alias c; p_select of each) are as of: the live table (infinity) or a checkpoint.
-- Backward (p_from is as of a later time): rows changed between p_at and $4 come from the
-- store as they were before their first change after p_at. Forward (p_from is a checkpoint
-- as of an earlier time p_since, passed as $4 too): rows changed between it and p_at are as
-- their last change left them. Either way every other row is p_from's; images are rows of p_rowtype
-- (e.g. $3), translated to the current column names when a rename came later, generated
-- columns computed.
CREATE OR REPLACE FUNCTION warden.audit_as_of_sql(p_table_id integer, p_at timestamp with time zone, p_rowtype text, p_from text, p_select text, p_since timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    image text := 's.row_data';
    changed text := warden.audit_first_after_sql();
    since timestamptz := coalesce(p_since, p_at);
begin
    if p_since is not null then
        -- As warden.audit_state_at orders the changes before a time: the last one wins; the
        -- order on narrow rows, the images joined after (as audit_first_after_sql).
        changed := $c$
    firsts as materialized (
        select distinct on (f.h, f.k) f.k, f.event_id, f.phase
          from (select e.event_id, e.statement_id, x.k, x.phase, jsonb_hash(x.k) as h
                  from warden.audit_events_all e
                 cross join lateral (values (e.row_key, 1), (e.old_key, 0)) x(k, phase)
                 where e.table_id = $1 and e.at > $4 and e.at <= $2 and e.op <> 'T'
                   and x.k is not null) f
         order by f.h, f.k, f.statement_id desc, f.phase desc, f.event_id desc
    ),
    -- As warden.audit_facts_all describes the state after each event.
    s as (
        select w.k as row_key, w.phase = 1 and e.op <> 'D' as present,
               case when w.phase = 1 and e.op <> 'D' then e.new_row end as row_data, e.at
          from firsts w
          join warden.audit_events_all e on e.event_id = w.event_id
         where e.table_id = $1 and e.at > $4 and e.at <= $2
    )$c$;
    end if;
    if warden.audit_renamed_after(p_table_id, since) then
        image := coalesce(warden.audit_rename_sql(p_table_id, since, 's.row_data', 's.at'), image);
    end if;
    -- Each image as a row, its generated columns computed (as_row: a FROM item).
    image := coalesce(warden.audit_generated_sql(p_table_id, image, true),
                      format('jsonb_populate_record(%s, %s)', p_rowtype, image));
    return format(
        $q$ with %s
            select r.* from s cross join lateral %s r
             where s.present
            union all
            select %s from %s
             where not exists (select 1 from firsts w where %s) $q$,
        changed, image, p_select, p_from,
        warden.audit_key_match_sql(p_table_id, 'w.k', 'c'));
end
$_$;
REVOKE ALL ON FUNCTION warden.audit_as_of_sql(p_table_id integer, p_at timestamp with time zone, p_rowtype text, p_from text, p_select text, p_since timestamp with time zone) FROM PUBLIC;
