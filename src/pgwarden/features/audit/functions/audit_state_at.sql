-- function warden.audit_state_at(integer,timestamp with time zone,jsonb)
-- Each row of a table (or the one at p_key) as it was at p_at: present or not, and its image
-- in the current column names (of a dropped table: the last recorded ones), its generated
-- columns computed.
CREATE OR REPLACE FUNCTION warden.audit_state_at(p_table_id integer, p_at timestamp with time zone, p_key jsonb DEFAULT NULL::jsonb) RETURNS TABLE(row_key jsonb, present boolean, row_data jsonb)
    LANGUAGE sql STABLE
    AS $$
    with f as materialized (
        select * from warden.audit_facts(p_table_id) where p_key is null
        union all
        select * from warden.audit_facts(p_table_id, p_key) where p_key is not null
    ),
    spans as materialized (select * from warden.audit_rename_spans(p_table_id, '-infinity')),
    g as materialized (select warden.audit_generated_sql(p_table_id, '$1', false) as q),
    wiped as (  -- the last TRUNCATE at or before p_at
        select coalesce(max(e.statement_id), 0) as statement_id from warden.audit_events_all e
         where e.table_id = p_table_id and e.op = 'T' and e.at <= p_at
    ),
    last_before as (
        select distinct on (f.row_key) f.row_key, f.statement_id, f.present_after, f.row_after,
               f.at
          from f where f.at <= p_at
         order by f.row_key, f.statement_id desc, f.phase desc, f.event_id desc
    ),
    first_after as (
        select distinct on (f.row_key) f.row_key, f.present_before, f.row_before, f.at
          from f where f.at > p_at
         order by f.row_key, f.statement_id, f.phase, f.event_id
    ),
    state as (
        select coalesce(b.row_key, a.row_key) as row_key,
               case when b.row_key is not null
                    then b.present_after and b.statement_id > w.statement_id
                    else a.present_before end as present,
               case when b.row_key is not null then b.row_after else a.row_before end as row_data,
               case when b.row_key is not null then b.at else a.at end as at
          from last_before b
          full join first_after a on a.row_key = b.row_key
         cross join wiped w
    )
    select x.row_key, x.present,
           case when g.q is null then i.image else warden.audit_generated(i.image, g.q) end
      from state x
     cross join g
     cross join lateral (select
           case when x.row_data is null or not exists (select 1 from spans) then x.row_data
                else warden.audit_rename_image(x.row_data,
                     (select s.moves from spans s where x.at >= s.from_at and x.at < s.to_at))
           end) i(image)
$$;
REVOKE ALL ON FUNCTION warden.audit_state_at(p_table_id integer, p_at timestamp with time zone, p_key jsonb) FROM PUBLIC;
