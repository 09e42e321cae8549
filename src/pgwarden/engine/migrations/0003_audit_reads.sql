-- Reading the audit store: row history, time travel, and putting rows back.
--
-- Every event says, for each key it touches, what the row was before and after:
--   I      key: absent -> new_row
--   D      key: old_row -> absent
--   U      key: (new_row || old_row) -> new_row                   (key unchanged)
--   U      old_key: (new_row || old_row) -> absent; key: absent -> new_row   (key changed)
-- Within one statement all removals (phase 0) come before all additions (phase 1), so a
-- statement that shifts or swaps keys replays correctly. The state of a key at time T is the
-- "after" of its last fact at or before T, else the "before" of its first fact after T, else
-- (never touched) the row as it is now: history is right even for rows older than auditing.

create function warden.audit_table_id(p_table text) returns int
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    found_id int;
    parts text[];
begin
    select table_id into found_id from warden.audit_tables where relid = to_regclass(p_table);
    if found_id is not null then
        return found_id;
    end if;
    -- A dropped table keeps its history: find it by name (latest registration wins).
    parts := parse_ident(p_table);
    if array_length(parts, 1) = 1 then
        parts := array['public', parts[1]];
    end if;
    select table_id into found_id from warden.audit_tables
     where schema_name = parts[1] and table_name = parts[2]
     order by registered_at desc limit 1;
    if found_id is null then
        raise exception 'pgwarden: % is not audited', p_table
            using errcode = 'undefined_table',
                  hint = 'declare audit = true for it in pgwarden.toml and apply';
    end if;
    return found_id;
end
$$;

-- One row per (event, key it touches), with both images. A view, and plain SQL functions
-- over it without SET clauses, on purpose: PostgreSQL inlines them into the calling query and
-- pushes the table id, key and time down to the event scan (index scans, real estimates).
create view warden.audit_facts_all as
    select x.k as row_key, e.statement_id, x.phase, e.event_id, e.at, e.op, e.txid,
           e.context_seq, x.present_before, x.row_before, x.present_after, x.row_after,
           e.table_id, e.row_key as event_key, e.old_key as event_old_key
      from warden.audit_events e
     cross join lateral (values
        (e.row_key, 1,
         e.op = 'D' or (e.op = 'U' and e.old_key is null),
         case when e.op = 'D' then e.old_row
              when e.op = 'U' and e.old_key is null then e.new_row || e.old_row end,
         e.op <> 'D',
         case when e.op <> 'D' then e.new_row end),
        (e.old_key, 0, true, e.new_row || e.old_row, false, null::jsonb)
     ) as x(k, phase, present_before, row_before, present_after, row_after)
     where e.op <> 'T' and x.k is not null;
revoke all on warden.audit_facts_all from public;

create function warden.audit_facts(p_table_id int)
returns setof warden.audit_facts_all
language sql stable
as $$
    select * from warden.audit_facts_all f where f.table_id = p_table_id
$$;

-- The facts of one key (through the row history index).
create function warden.audit_facts(p_table_id int, p_key jsonb)
returns setof warden.audit_facts_all
language sql stable
as $$
    select * from warden.audit_facts_all f
     where f.table_id = p_table_id and (f.event_key = p_key or f.event_old_key = p_key)
       and f.row_key = p_key
$$;

-- The state at p_at of every key that has any fact (present or not); untouched rows are not
-- listed: they are as they are now. Reads the whole history: for a table that still exists,
-- warden.audit_first_after() needs only what changed after p_at.
create function warden.audit_state_at(p_table_id int, p_at timestamptz, p_key jsonb default null)
returns table (row_key jsonb, present boolean, row_data jsonb)
language sql stable
as $$
    with f as materialized (
        select * from warden.audit_facts(p_table_id) where p_key is null
        union all
        select * from warden.audit_facts(p_table_id, p_key) where p_key is not null
    ),
    wiped as (  -- the last TRUNCATE at or before p_at
        select coalesce(max(e.statement_id), 0) as statement_id from warden.audit_events e
         where e.table_id = p_table_id and e.op = 'T' and e.at <= p_at
    ),
    last_before as (
        select distinct on (f.row_key) f.row_key, f.statement_id, f.present_after, f.row_after
          from f where f.at <= p_at
         order by f.row_key, f.statement_id desc, f.phase desc, f.event_id desc
    ),
    first_after as (
        select distinct on (f.row_key) f.row_key, f.present_before, f.row_before
          from f where f.at > p_at
         order by f.row_key, f.statement_id, f.phase, f.event_id
    )
    select coalesce(b.row_key, a.row_key),
           case when b.row_key is not null
                then b.present_after and b.statement_id > w.statement_id
                else a.present_before end,
           case when b.row_key is not null then b.row_after else a.row_before end
      from last_before b
      full join first_after a on a.row_key = b.row_key
     cross join wiped w
$$;

-- For a table that exists: each key changed after p_at, and what it was just before its
-- first change after p_at. Every other row is now as it was then. Cost follows the amount of
-- change since p_at, not the size of the history (BRIN on at).
create function warden.audit_first_after(p_table_id int, p_at timestamptz)
returns table (row_key jsonb, present boolean, row_data jsonb)
language sql stable
as $$
    select distinct on (f.row_key) f.row_key, f.present_before, f.row_before
      from warden.audit_facts_all f
     where f.table_id = p_table_id and f.at > p_at
     order by f.row_key, f.statement_id, f.phase, f.event_id
$$;

-- The key columns' names as they are now: found by attribute number, so a renamed key
-- column is followed (as recorded at registration when the table is gone).
create function warden.audit_key_names(p_table_id int) returns text[]
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select coalesce(
        (select array_agg(a.attname::text order by k.o)
           from unnest(t.key_attnums) with ordinality k(attnum, o)
           join pg_attribute a on a.attrelid = t.relid and a.attnum = k.attnum
                              and not a.attisdropped
         having count(*) = cardinality(t.key_attnums)),
        t.key_columns)
      from warden.audit_tables t where t.table_id = p_table_id
$$;

-- The excluded and redacted columns' names as they are now (followed through renames).
create function warden.audit_hidden_names(p_table_id int) returns text[]
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select t.hidden_columns || coalesce(
        (select array_agg(a.attname::text)
           from pg_attribute a
          where a.attrelid = t.relid and a.attnum = any(t.hidden_attnums)
            and not a.attisdropped), '{}')
      from warden.audit_tables t where t.table_id = p_table_id
$$;

-- SQL that computes a row's key as jsonb, for dynamic queries over the live table.
create function warden.audit_key_sql(p_table_id int, p_alias text) returns text
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select case
        when names is null then format('to_jsonb(%I.*)', p_alias)
        else 'jsonb_build_array(' || (
            select string_agg(format('%I.%I', p_alias, c), ', ' order by o)
              from unnest(names) with ordinality k(c, o)) || ')'
        end
      from warden.audit_key_names(p_table_id) names
$$;

-- The whole table as it was at p_at, as rows of its own type:
--     select * from warden.as_of(null::public.entries, '2026-01-01');
create function warden.as_of(p_row anyelement, p_at timestamptz) returns setof anyelement
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    rel regclass := (select t.typrelid from pg_type t where t.oid = pg_typeof(p_row))::regclass;
    tid int;
begin
    if rel is null then
        raise exception 'pgwarden: as_of needs a row type, e.g. null::public.entries';
    end if;
    tid := warden.audit_table_id(rel::text);
    return query execute format(
        $q$ with s as materialized (select * from warden.audit_first_after($1, $2))
            select (jsonb_populate_record($3, s.row_data)).* from s where s.present
            union all
            select c.* from %s c
             where not exists (select 1 from s where s.row_key = %s) $q$,
        rel, warden.audit_key_sql(tid, 'c'))
    using tid, p_at, p_row;
end
$$;

-- One row as it was at p_at (no row: it did not exist then).
create function warden.row_as_of(p_row anyelement, p_key jsonb, p_at timestamptz)
returns setof anyelement
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    rel regclass := (select t.typrelid from pg_type t where t.oid = pg_typeof(p_row))::regclass;
    tid int := warden.audit_table_id(rel::text);
    st record;
begin
    select f.present_before as present, f.row_before as row_data into st
      from warden.audit_facts(tid, p_key) f where f.at > p_at
     order by f.statement_id, f.phase, f.event_id limit 1;
    if found then
        if st.present then
            return next jsonb_populate_record(p_row, st.row_data);
        end if;
        return;
    end if;
    return query execute format('select c.* from %s c where %s = $1',
                                rel, warden.audit_key_sql(tid, 'c'))
    using p_key;
end
$$;

-- Every version of one row, oldest first. Version 0 is the row as it was before auditing
-- began, when it already existed then.
create function warden.history(p_table text, p_key jsonb)
returns table (
    version int, valid_from timestamptz, valid_to timestamptz, op text, row_data jsonb,
    changed text[], actor text, tenant text, reason text, request_id text, txid xid8,
    event_id bigint
)
language sql stable
as $$
    with f as (
        select f.*, row_number() over (order by f.statement_id, f.phase, f.event_id) as n
          from warden.audit_facts(warden.audit_table_id(p_table), p_key) f
    ),
    origin as (
        select 0::int as version, null::timestamptz as valid_from, f.at as valid_to,
               'existing'::text as op, f.row_before as row_data, null::text[] as changed,
               null::text as actor, null::text as tenant, null::text as reason,
               null::text as request_id, null::xid8 as txid, null::bigint as event_id
          from f where f.n = 1 and f.present_before
    )
    select * from origin
    union all
    select f.n::int, f.at, lead(f.at) over (order by f.n),
           case f.op when 'I' then 'insert' when 'D' then 'delete'
                     else case when f.present_after then 'update' else 'update (key moved away)' end
           end,
           f.row_after,
           case when f.present_before and f.present_after then
               array(select k from jsonb_object_keys(f.row_after || f.row_before) k
                      where f.row_after -> k is distinct from f.row_before -> k order by k)
           end,
           c.actor, c.tenant, c.reason, c.request_id, f.txid, f.event_id
      from f left join warden.audit_contexts c
        on c.txid = f.txid and c.context_seq = f.context_seq
     order by 1
$$;

-- Set the row at p_key to p_image (delete it when p_present is false). Columns absent from
-- the image (excluded or redacted ones) keep their current values on update.
create function warden.put_row(p_rel regclass, p_key jsonb, p_present boolean, p_image jsonb)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    tid int := warden.audit_table_id(p_rel::text);
    key_sql text := warden.audit_key_sql(tid, 'c');
    ins_cols text;
    upd_cols text;
    hidden text[] := warden.audit_hidden_names(tid);
    n int;
begin
    if not p_present then
        execute format('delete from %s c where %s = $1', p_rel, key_sql) using p_key;
        return;
    end if;
    select string_agg(format('%I', a.attname), ', ' order by a.attnum)
      into ins_cols
      from pg_attribute a
     where a.attrelid = p_rel and a.attnum > 0 and not a.attisdropped
       and a.attgenerated = '' and p_image ? a.attname
       and a.attname <> all (hidden);
    if ins_cols is null then
        raise exception 'pgwarden: no column of % in the recorded image', p_rel;
    end if;
    -- GENERATED ALWAYS identity columns cannot be SET; they are (part of) the key anyway.
    select string_agg(format('%I = r.%I', a.attname, a.attname), ', ' order by a.attnum)
      into upd_cols
      from pg_attribute a
     where a.attrelid = p_rel and a.attnum > 0 and not a.attisdropped
       and a.attgenerated = '' and a.attidentity <> 'a' and p_image ? a.attname
       and a.attname <> all (hidden);
    n := 0;
    if upd_cols is not null then
        execute format(
            'update %1$s c set %2$s from jsonb_populate_record(null::%1$s, $2) r where %3$s = $1',
            p_rel, upd_cols, key_sql) using p_key, p_image;
        get diagnostics n = row_count;
    else
        execute format('select count(*) from %s c where %s = $1', p_rel, key_sql)
           into n using p_key;
    end if;
    if n = 0 then
        execute format(
            'insert into %1$s (%2$s) overriding system value select %2$s '
            'from jsonb_populate_record(null::%1$s, $1)', p_rel, ins_cols) using p_image;
    end if;
end
$$;

revoke all on all functions in schema warden from public;
