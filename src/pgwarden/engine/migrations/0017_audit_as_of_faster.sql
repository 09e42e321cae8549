-- Time travel of a whole table (warden.as_of) reads, for each row changed after the time
-- asked for, its first change after it. Two costs dominated with many changes: every fact
-- carried its image through the sort that picks the first per row (and built it, a jsonb
-- concatenation per update), and the live table was matched against those rows by a jsonb
-- key computed for each of its rows.
--
-- Now the first change per row is chosen on narrow facts (key, statement, phase, event id),
-- sorted by the key's hash first (jsonb comparisons only on equal hashes); only the chosen
-- events' images are built, joined back by event id. as_of runs that query itself (a
-- function call would keep it from parallel workers), and matches the live rows by their
-- key columns, typed, when the key is made of plain scalars.

-- As in 0015 (same result): the first change after p_at of each row changed since.
-- The first change after p_at of each row changed since, as the text of a query over
-- $1 (table id) and $2 (time), for as_of to run itself. The planner cannot estimate how
-- many rows the first step keeps (it guesses a handful): run it without nested loops, or
-- joining them back probes the store once per row (minutes for 200,000 rows, measured).
create or replace function warden.audit_first_after_sql() returns text
language sql immutable
as $f$
    select $q$
    firsts as materialized (
        select distinct on (f.h, f.k) f.k, f.event_id, f.phase
          from (select e.event_id, e.statement_id, x.k, x.phase, jsonb_hash(x.k) as h
                  from warden.audit_events_all e
                 cross join lateral (values (e.row_key, 1), (e.old_key, 0)) x(k, phase)
                 where e.table_id = $1 and e.at > $2 and e.op <> 'T'
                   and x.k is not null) f
         order by f.h, f.k, f.statement_id, f.phase, f.event_id
    ),
    -- As warden.audit_facts_all describes the state before each event.
    s as materialized (
        select w.k as row_key,
               w.phase = 0 or e.op = 'D' or (e.op = 'U' and e.old_key is null) as present,
               case when w.phase = 0 then e.new_row || e.old_row
                    when e.op = 'D' then e.old_row
                    when e.op = 'U' and e.old_key is null then e.new_row || e.old_row
               end as row_data,
               e.at
          from firsts w
          join warden.audit_events_all e on e.event_id = w.event_id
         where e.table_id = $1 and e.at > $2
    )$q$
$f$;

-- As in 0015 (same result), by the query above.
create or replace function warden.audit_first_after_at(p_table_id int, p_at timestamptz)
returns table (row_key jsonb, present boolean, row_data jsonb, at timestamptz)
language plpgsql stable
set enable_nestloop = off
set search_path = pg_catalog, pg_temp
as $$
begin
    return query execute 'with ' || warden.audit_first_after_sql()
        || ' select s.row_key, s.present, s.row_data, s.at from s'
    using p_table_id, p_at;
end
$$;

create or replace function warden.audit_first_after(p_table_id int, p_at timestamptz)
returns table (row_key jsonb, present boolean, row_data jsonb)
language sql stable
as $$
    select f.row_key, f.present, f.row_data from warden.audit_first_after_at(p_table_id, p_at) f
$$;

-- SQL true when live row p_live has the key p_key (a jsonb key expression): the key columns
-- compared typed when each is a plain scalar (number, string, date/time, boolean, uuid),
-- which hashes the live table's rows without building a jsonb per row; else as jsonb.
create or replace function warden.audit_key_match_sql(
    p_table_id int, p_key text, p_live text
) returns text
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select case
        when names is not null and cardinality(names) = cardinality(t.key_types)
             and (select bool_and(ty.typcategory in ('N', 'S', 'D', 'B')
                                  or ty.oid = 'uuid'::regtype)
                    from unnest(t.key_types) kt(name)
                    join pg_type ty on ty.oid = to_regtype(kt.name))
             and (select count(*) from unnest(t.key_types) kt(name)
                   where to_regtype(kt.name) is not null) = cardinality(names)
        then (select string_agg(format('(%s ->> %s)::%s = %I.%I', p_key, o - 1, kt, p_live, c),
                                ' and ' order by o)
                from unnest(names, t.key_types) with ordinality k(c, kt, o))
        else format('%s = %s', p_key, warden.audit_key_sql(p_table_id, p_live))
        end
      from warden.audit_tables t, warden.audit_key_names(p_table_id) names
     where t.table_id = p_table_id
$$;

-- As in 0015, running the first-change query itself, with live rows matched by
-- warden.audit_key_match_sql, and each image made a row once (a (f(x)).* in the select list
-- would call f once per column).
create or replace function warden.as_of(p_row anyelement, p_at timestamptz)
returns setof anyelement
language plpgsql stable
set enable_nestloop = off
set search_path = pg_catalog, pg_temp
as $$
declare
    rel regclass := (select t.typrelid from pg_type t where t.oid = pg_typeof(p_row))::regclass;
    tid int;
    image text := 's.row_data';
begin
    if rel is null then
        raise exception 'pgwarden: as_of needs a row type, e.g. null::public.entries';
    end if;
    tid := warden.audit_table_id(rel::text);
    if warden.audit_renamed_after(tid, p_at) then
        image := coalesce(warden.audit_rename_sql(tid, p_at, 's.row_data', 's.at'), image);
    end if;
    return query execute format(
        $q$ with %s
            select r.* from s cross join lateral jsonb_populate_record($3, %s) r
             where s.present
            union all
            select c.* from %s c
             where not exists (select 1 from s where %s) $q$,
        warden.audit_first_after_sql(), image, rel,
        warden.audit_key_match_sql(tid, 's.row_key', 'c'))
    using tid, p_at, p_row;
end
$$;

revoke all on function warden.audit_key_match_sql(int, text, text) from public;
revoke all on function warden.audit_first_after_sql() from public;
