-- Time travel and revert across ALTER TABLE ... RENAME COLUMN (and DROP COLUMN).
--
-- Row images are jsonb keyed by column name, as the columns were named when the image was
-- captured. warden.audit_columns records, by attribute number (stable across renames), the
-- name of each column of an audited table over time; reads that rebuild rows of the current
-- type (as_of, row_as_of, audit_state_at, revert_transaction, and revert through Python)
-- translate each image from the names in force at its event time to the current names.
-- They pay for it only when the table has a rename or drop after the time asked for.
--
-- Rows are written when a table is registered for audit (the current names) and by the
-- audit feature's event trigger (warden.audit_track_columns on ddl_command_end for ALTER
-- TABLE), which needs a superuser to create: it is an owned object of the audit feature.

-- "if not exists" and "or replace" for what a registration and the event trigger use, as
-- 0014 did for archive_after: a test builds an old store that today's feature code fills.
create table if not exists warden.audit_columns (
    table_id int not null,
    attnum   smallint not null,
    name     text,
    since    timestamptz not null,
    txid     xid8,
    primary key (table_id, attnum, since)
);
comment on table warden.audit_columns is
    'Names of the columns of each audited table over time, by attribute number: name is the '
    'column''s name from since on (NULL: dropped). -infinity: the name it had when names '
    'were first recorded. Written at registration and by the event trigger '
    'warden.audit_track_columns (ALTER TABLE); read to translate old row images to the '
    'current names.';
revoke all on warden.audit_columns from public;

-- Tables audited before this migration: their current names, valid since ever (what every
-- read assumed until now).
insert into warden.audit_columns (table_id, attnum, name, since)
select t.table_id, a.attnum, a.attname, '-infinity'
  from warden.audit_tables t
  join pg_attribute a on a.attrelid = t.relid and a.attnum > 0 and not a.attisdropped
 where t.dropped_at is null
on conflict do nothing;

-- Records the columns of registered tables whose names differ from the latest recorded ones
-- (renamed, dropped, added). p_relids: the tables to look at (NULL: every registered one).
-- A column first seen now is dated p_first (-infinity at registration: it has always had
-- that name as far as the store knows; the time of the ALTER for an added column).
create or replace function warden.audit_record_columns(p_relids oid[], p_first timestamptz)
returns void
language sql
set search_path = pg_catalog, pg_temp
as $$
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

-- The event trigger's function: after each ALTER TABLE, the audited tables it touched get
-- their renamed, dropped and added columns recorded, dated now. Never fails the user's
-- ALTER TABLE: an error becomes a WARNING (the plan then shows the registration altered,
-- and the next apply records the names; see docs/audit.md). SECURITY DEFINER: the table's
-- owner needs no privilege on the store.
create or replace function warden.audit_track_columns() returns event_trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    touched oid[];
begin
    select array_agg(distinct d.objid) into touched
      from pg_event_trigger_ddl_commands() d
     where d.classid = 'pg_class'::regclass;
    if touched is null
       or not exists (select 1 from warden.audit_tables t
                       where t.relid = any(touched) and t.dropped_at is null) then
        return;
    end if;
    perform warden.audit_record_columns(touched, clock_timestamp());
exception when others then
    raise warning 'pgwarden: could not record the column names of an audited table: %', sqlerrm
        using hint = 'time travel to before this ALTER TABLE may show renamed columns as NULL '
                     'until pgwarden apply records the names again';
end
$$;

-- Whether any column of the table was renamed or dropped after p_at (an added column needs
-- no translation: older images just lack it). The fast paths below depend on this answer.
create function warden.audit_renamed_after(p_table_id int, p_at timestamptz) returns boolean
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select exists (
        select 1 from warden.audit_columns c
         where c.table_id = p_table_id and c.since > p_at
           and exists (select 1 from warden.audit_columns p
                        where p.table_id = c.table_id and p.attnum = c.attnum
                          and p.since < c.since))
$$;

-- How to bring an image captured at p_at to the current names: {name then: name now}, a
-- JSON null for a column dropped since, for every column renamed or dropped after p_at.
-- NULL when there is nothing to translate.
create function warden.audit_moves(p_table_id int, p_at timestamptz) returns jsonb
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select jsonb_object_agg(b.name, c.name)
      from (select distinct on (x.attnum) x.attnum, x.name from warden.audit_columns x
             where x.table_id = p_table_id and x.since <= p_at
             order by x.attnum, x.since desc) b
      join (select distinct on (x.attnum) x.attnum, x.name, x.since from warden.audit_columns x
             where x.table_id = p_table_id
             order by x.attnum, x.since desc) c on c.attnum = b.attnum
     where b.name is not null and c.since > p_at
$$;

-- An image in the current names: every name in p_moves the image has is taken out, and its
-- value put back under the column's current name (dropped: not at all). Keys the image does
-- not have are left alone, so an image already in newer names (captured while a rename was
-- not yet recorded) stays as it is. Attribute-number based: chains (v -> label -> title),
-- renames back, swaps and a rename to a name a dropped column once had all come out right.
create function warden.audit_rename_image(p_image jsonb, p_moves jsonb) returns jsonb
language sql immutable
set search_path = pg_catalog, pg_temp
as $$
    select case when p_moves is null or p_image is null then p_image
           else (p_image - array(select jsonb_object_keys(p_moves)))
                || coalesce((select jsonb_object_agg(m.value #>> '{}', p_image -> m.key)
                               from jsonb_each(p_moves) m
                              where p_image ? m.key and jsonb_typeof(m.value) = 'string'),
                            '{}')
           end
$$;

-- The translations to use for events after p_at, one per span of time between two recorded
-- column changes: an event at E in [from_at, to_at) translates with moves. Events after the
-- last change need none (no row).
create function warden.audit_rename_spans(p_table_id int, p_at timestamptz)
returns table (from_at timestamptz, to_at timestamptz, moves jsonb)
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select s.lo, s.hi, m.moves
      from (select b.lo, lead(b.lo) over (order by b.lo) as hi
              from (select p_at as lo
                    union
                    select c.since from warden.audit_columns c
                     where c.table_id = p_table_id and c.since > p_at) b) s
     cross join lateral (select warden.audit_moves(p_table_id, s.lo) as moves) m
     where s.hi is not null and m.moves is not null
$$;

-- The same translation as SQL text over a jsonb expression p_image whose capture time is
-- p_at_expr, for events after p_at: one CASE branch per span, each a jsonb expression with
-- no function call (a few operators per row, where a call per row costs several times that).
-- NULL when there is nothing to translate.
create function warden.audit_rename_sql(
    p_table_id int, p_at timestamptz, p_image text, p_at_expr text
) returns text
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select 'case ' || string_agg(
               format('when %1$s >= %2$L::timestamptz and %1$s < %3$L::timestamptz '
                      'then (%4$s - %5$L::text[])%6$s',
                      p_at_expr, s.from_at, s.to_at, p_image,
                      array(select jsonb_object_keys(s.moves)),
                      (select coalesce(string_agg(format(
                                  ' || case when %1$s ? %2$L then jsonb_build_object(%3$L, '
                                  '%1$s -> %2$L) else ''{}''::jsonb end',
                                  p_image, m.key, m.value #>> '{}'), ''), '')
                         from jsonb_each(s.moves) m where jsonb_typeof(m.value) = 'string')),
               ' ' order by s.from_at)
           || format(' else %s end', p_image)
      from warden.audit_rename_spans(p_table_id, p_at) s
$$;

-- As warden.audit_first_after, with the time of each fact (its image's names are those in
-- force then).
create function warden.audit_first_after_at(p_table_id int, p_at timestamptz)
returns table (row_key jsonb, present boolean, row_data jsonb, at timestamptz)
language sql stable
as $$
    select distinct on (f.row_key) f.row_key, f.present_before, f.row_before, f.at
      from warden.audit_facts_all f
     where f.table_id = p_table_id and f.at > p_at
     order by f.row_key, f.statement_id, f.phase, f.event_id
$$;

-- As in 0003, images in the current names when a column was renamed or dropped after p_at;
-- otherwise exactly the query it was (no extra cost).
create or replace function warden.as_of(p_row anyelement, p_at timestamptz)
returns setof anyelement
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    rel regclass := (select t.typrelid from pg_type t where t.oid = pg_typeof(p_row))::regclass;
    tid int;
    source text := 'warden.audit_first_after';
    image text := 's.row_data';
begin
    if rel is null then
        raise exception 'pgwarden: as_of needs a row type, e.g. null::public.entries';
    end if;
    tid := warden.audit_table_id(rel::text);
    if warden.audit_renamed_after(tid, p_at) then
        source := 'warden.audit_first_after_at';
        image := coalesce(warden.audit_rename_sql(tid, p_at, 's.row_data', 's.at'), image);
    end if;
    return query execute format(
        $q$ with s as materialized (select * from %s($1, $2))
            select (jsonb_populate_record($3, %s)).* from s where s.present
            union all
            select c.* from %s c
             where not exists (select 1 from s where s.row_key = %s) $q$,
        source, image, rel, warden.audit_key_sql(tid, 'c'))
    using tid, p_at, p_row;
end
$$;

-- As in 0003, with the image in the current names.
create or replace function warden.row_as_of(p_row anyelement, p_key jsonb, p_at timestamptz)
returns setof anyelement
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    rel regclass := (select t.typrelid from pg_type t where t.oid = pg_typeof(p_row))::regclass;
    tid int := warden.audit_table_id(rel::text);
    st record;
begin
    select f.present_before as present, f.row_before as row_data, f.at into st
      from warden.audit_facts(tid, p_key) f where f.at > p_at
     order by f.statement_id, f.phase, f.event_id limit 1;
    if found then
        if st.present then
            return next jsonb_populate_record(
                p_row, warden.audit_rename_image(st.row_data, warden.audit_moves(tid, st.at)));
        end if;
        return;
    end if;
    return query execute format('select c.* from %s c where %s = $1',
                                rel, warden.audit_key_sql(tid, 'c'))
    using p_key;
end
$$;

-- As in 0014, each image in the current names (of a dropped table: the last recorded ones).
create or replace function warden.audit_state_at(
    p_table_id int, p_at timestamptz, p_key jsonb default null
)
returns table (row_key jsonb, present boolean, row_data jsonb)
language sql stable
as $$
    with f as materialized (
        select * from warden.audit_facts(p_table_id) where p_key is null
        union all
        select * from warden.audit_facts(p_table_id, p_key) where p_key is not null
    ),
    spans as materialized (select * from warden.audit_rename_spans(p_table_id, '-infinity')),
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
           case when x.row_data is null or not exists (select 1 from spans) then x.row_data
                else warden.audit_rename_image(x.row_data,
                     (select s.moves from spans s where x.at >= s.from_at and x.at < s.to_at))
           end
      from state x
$$;

-- As in 0014, the transaction's images in the current names: both for the check that its
-- rows are still as it left them and for putting them back.
create or replace function warden.revert_transaction(p_txid xid8)
returns table (table_name text, row_key jsonb, action text)
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    ev record;
    st record;
    current_row jsonb;
    rel regclass;
    image jsonb;
begin
    if not exists (select 1 from warden.audit_events_all e where e.txid = p_txid) then
        raise exception 'pgwarden: transaction % changed no audited row', p_txid
            using errcode = 'no_data_found';
    end if;
    if exists (select 1 from warden.audit_events_all e where e.txid = p_txid and e.op = 'T') then
        raise exception 'pgwarden: cannot revert transaction %: it truncated a table', p_txid;
    end if;
    for st in
        with facts as (
            select e.table_id, x.k, e.statement_id, x.phase, e.event_id, x.present, x.image, e.at
              from warden.audit_events_all e
             cross join lateral (values
                (e.row_key, 1, e.op <> 'D', case when e.op <> 'D' then e.new_row end),
                (e.old_key, 0, false, null::jsonb)) x(k, phase, present, image)
             where e.txid = p_txid and x.k is not null
        )
        select distinct on (f.table_id, f.k) f.k, f.present,
               warden.audit_rename_image(f.image, warden.audit_moves(f.table_id, f.at)) as image,
               t.relid, warden.audit_hidden_names(t.table_id) as hidden_columns,
               t.schema_name || '.' || t.table_name as tbl
          from facts f join warden.audit_tables t on t.table_id = f.table_id
         order by f.table_id, f.k, f.statement_id desc, f.phase desc, f.event_id desc
    loop
        if not exists (select 1 from pg_class c where c.oid = st.relid) then
            raise exception 'pgwarden: cannot revert transaction %: table % no longer exists',
                p_txid, st.tbl;
        end if;
        current_row := warden.audit_current_row(st.relid::regclass::text, st.k);
        if (current_row is not null) <> st.present
           or (st.present and not (current_row - st.hidden_columns) @> (st.image - st.hidden_columns))
        then
            raise exception 'pgwarden: cannot revert transaction %: row % of % changed since',
                p_txid, st.k, st.tbl
                using errcode = 'serialization_failure',
                      hint = 'revert the later change first, or revert the row to a time instead';
        end if;
    end loop;
    for ev in
        select e.*, t.relid, warden.audit_moves(t.table_id, e.at) as moves
          from warden.audit_events_all e
          join warden.audit_tables t on t.table_id = e.table_id
         where e.txid = p_txid
         order by e.statement_id desc, e.event_id desc
    loop
        rel := ev.relid::regclass;
        if ev.op = 'I' then
            perform warden.put_row(rel, ev.row_key, false, null);
            table_name := rel::text; row_key := ev.row_key; action := 'deleted';
        elsif ev.op = 'D' then
            image := warden.audit_rename_image(ev.old_row, ev.moves);
            perform warden.put_row(rel, ev.row_key, true, image);
            table_name := rel::text; row_key := ev.row_key; action := 'restored';
        else
            image := warden.audit_rename_image(ev.new_row || ev.old_row, ev.moves);
            perform warden.put_row(rel, ev.row_key, true, image);
            table_name := rel::text;
            if ev.old_key is null then
                row_key := ev.row_key; action := 'updated back';
            else
                -- The row moved from old_key to row_key: move it back.
                row_key := ev.old_key; action := 'moved back';
            end if;
        end if;
        return next;
    end loop;
end
$$;

-- As in 0006, each version's row in the current names, for the versioning feature's typed
-- views (history() keeps each version in the shape it was recorded in).
create or replace function warden.versions(p_table_id int)
returns table (
    row_key jsonb, version int, valid_from timestamptz, valid_to timestamptz, op text,
    row_data jsonb, actor text, tenant text, reason text, request_id text, txid xid8,
    event_id bigint
)
language sql stable
as $$
    with spans as materialized (select * from warden.audit_rename_spans(p_table_id, '-infinity'))
    select f.row_key,
           row_number() over w::int,
           f.at,
           lead(f.at) over w,
           case f.op when 'I' then 'insert' when 'D' then 'delete'
                     else case when f.present_after then 'update' else 'update (key moved away)' end
           end,
           case when f.row_after is null or not exists (select 1 from spans) then f.row_after
                else warden.audit_rename_image(f.row_after,
                     (select s.moves from spans s where f.at >= s.from_at and f.at < s.to_at))
           end,
           c.actor, c.tenant, c.reason, c.request_id, f.txid, f.event_id
      from warden.audit_facts(p_table_id) f
      left join warden.audit_contexts c
        on c.txid = f.txid and c.context_seq = f.context_seq
    window w as (partition by f.row_key order by f.statement_id, f.phase, f.event_id)
$$;

revoke all on all functions in schema warden from public;
