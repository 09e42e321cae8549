SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;
CREATE SCHEMA archive;
CREATE SCHEMA warden;
CREATE SCHEMA warden_wal;
CREATE FUNCTION warden.allow_hard_delete() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    perform set_config('pgwarden.hard_delete',
                       (select value from warden.secrets where name = 'hard_delete'), true);
end
$$;
CREATE FUNCTION warden.as_of(p_row anyelement, p_at timestamp with time zone) RETURNS SETOF anyelement
    LANGUAGE plpgsql STABLE
    SET enable_nestloop TO 'off'
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    rel regclass := (select t.typrelid from pg_type t where t.oid = pg_typeof(p_row))::regclass;
    tid int;
    image text := 's.row_data';
    callers_work_mem text := current_setting('work_mem');
begin
    if rel is null then
        raise exception 'pgwarden: as_of needs a row type, e.g. null::public.entries';
    end if;
    tid := warden.audit_table_id(rel::text);
    if warden.audit_renamed_after(tid, p_at) then
        image := coalesce(warden.audit_rename_sql(tid, p_at, 's.row_data', 's.at'), image);
    end if;
    if pg_size_bytes(callers_work_mem) < pg_size_bytes('32MB') then
        perform set_config('work_mem', '32MB', true);
    end if;
    return query execute format(
        $q$ with %s
            select r.* from s cross join lateral jsonb_populate_record($3, %s) r
             where s.present
            union all
            select c.* from %s c
             where not exists (select 1 from firsts w where %s) $q$,
        warden.audit_first_after_sql(), image, rel,
        warden.audit_key_match_sql(tid, 'w.k', 'c'))
    using tid, p_at, p_row;
    perform set_config('work_mem', callers_work_mem, true);
end
$_$;
CREATE FUNCTION warden.audit_adopt_partitions() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    root oid;
    t record;
begin
    -- Nested in its own work, or inside pgwarden's apply (which gives every partition its
    -- capture itself, one ALTER TABLE each: visiting the tree for each was quadratic).
    if current_setting('pgwarden._adopting', true) = 'on'
       or current_setting('pgwarden._applying', true) = 'on' then
        return;
    end if;
    perform set_config('pgwarden._adopting', 'on', true);
    for root in
        select distinct audited.relid
          from (select distinct d.objid from pg_event_trigger_ddl_commands() d
                 where d.classid = 'pg_class'::regclass) cmd
         cross join lateral (
               select a.relid
                 from pg_partition_ancestors(cmd.objid) with ordinality a(relid, n)
                 join warden.audit_tables r on r.relid = a.relid and r.dropped_at is null
                order by a.n
                limit 1) audited
         where (select c.relkind from pg_class c where c.oid = audited.relid) = 'p'
    loop
        for t in
            select p.relid as part, g.tgname, g.tgtype::int as tgtype, g.tgfoid::regproc as fn,
                   (select string_agg(quote_ident(a.attname), ', ' order by k.n)
                      from unnest(g.tgattr::int2[]) with ordinality k(attnum, n)
                      join pg_attribute a on a.attrelid = root and a.attnum = k.attnum) as cols
              from pg_partition_tree(root) p
              join pg_trigger g on g.tgrelid = root
             where p.relid <> root and not g.tgisinternal
               and g.tgname like 'pgwarden\_audit\_%'
               and g.tgtype::int & 1 = 0  -- statement level (row triggers are cloned)
               and not exists (select 1 from pg_trigger x
                                where x.tgrelid = p.relid and x.tgname = g.tgname
                                  and x.tgfoid = g.tgfoid and x.tgtype = g.tgtype)
        loop
            execute format(
                'create or replace trigger %I %s %s on %s for each statement '
                'execute function %s()',
                t.tgname,
                case when t.tgtype & 2 <> 0 then 'before' else 'after' end,
                concat_ws(' or ',
                    case when t.tgtype & 4 <> 0 then 'insert' end,
                    case when t.tgtype & 8 <> 0 then 'delete' end,
                    case when t.tgtype & 16 <> 0 then 'update' || coalesce(' of ' || t.cols, '')
                    end,
                    case when t.tgtype & 32 <> 0 then 'truncate' end),
                t.part::regclass, t.fn);
        end loop;
        if (select c.relreplident from pg_class c where c.oid = root) = 'f' then
            for t in
                select p.relid as part from pg_partition_tree(root) p
                  join pg_class c on c.oid = p.relid
                 where c.relreplident <> 'f'
            loop
                execute format('alter table %s replica identity full', t.part::regclass);
            end loop;
        end if;
        -- The table's own capture functions (not the context trigger's, which every table shares).
        for t in
            select g.tgrelid, g.tgname from pg_trigger g
             where not g.tgisinternal and g.tgname like 'pgwarden\_audit\_%'
               and g.tgrelid <> root
               and g.tgrelid <> all (array(select p.relid from pg_partition_tree(root) p))
               and g.tgfoid in (select r.tgfoid from pg_trigger r
                                 where r.tgrelid = root and not r.tgisinternal
                                   and r.tgname like 'pgwarden\_audit\_%'
                                   and r.tgname <> 'pgwarden_audit_w')
        loop
            execute format('drop trigger %I on %s', t.tgname, t.tgrelid::regclass);
        end loop;
    end loop;
    perform set_config('pgwarden._adopting', '', true);
exception when others then
    -- (The mark set in the block is rolled back with it.)
    raise warning 'pgwarden: could not give the partitions of an audited table their capture: %',
        sqlerrm
        using hint = 'run pgwarden apply: the plan lists what the partitions still lack';
end
$$;
CREATE FUNCTION warden.audit_current_row(p_table text, p_key jsonb) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    tid int := warden.audit_table_id(p_table);
    rel regclass := (select relid::regclass from warden.audit_tables where table_id = tid);
    result jsonb;
begin
    if rel is null then
        return null;
    end if;
    execute format('select to_jsonb(c.*) from %s c where %s = $1', rel,
                   warden.audit_key_sql(tid, 'c'))
       into result using p_key;
    return result;
end
$_$;
CREATE FUNCTION warden.audit_expired_partitions(p_now timestamp with time zone DEFAULT now()) RETURNS SETOF regclass
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
SET default_tablespace = '';
CREATE TABLE warden.audit_events (
    event_id bigint NOT NULL,
    statement_id bigint NOT NULL,
    txid xid8 NOT NULL,
    context_seq smallint NOT NULL,
    table_id integer NOT NULL,
    op "char" NOT NULL,
    at timestamp with time zone NOT NULL,
    row_key jsonb,
    old_key jsonb,
    old_row jsonb,
    new_row jsonb,
    CONSTRAINT audit_events_op_check CHECK ((op = ANY (ARRAY['I'::"char", 'U'::"char", 'D'::"char", 'T'::"char"])))
)
PARTITION BY RANGE (at);
CREATE TABLE warden.audit_events_archive (
    event_id bigint NOT NULL,
    statement_id bigint NOT NULL,
    txid xid8 NOT NULL,
    context_seq smallint NOT NULL,
    table_id integer NOT NULL,
    op "char" NOT NULL,
    at timestamp with time zone NOT NULL,
    row_key jsonb,
    old_key jsonb,
    old_row jsonb,
    new_row jsonb,
    CONSTRAINT audit_events_op_check CHECK ((op = ANY (ARRAY['I'::"char", 'U'::"char", 'D'::"char", 'T'::"char"])))
)
PARTITION BY RANGE (at);
ALTER TABLE ONLY warden.audit_events_archive ALTER COLUMN row_key SET COMPRESSION lz4;
ALTER TABLE ONLY warden.audit_events_archive ALTER COLUMN old_key SET COMPRESSION lz4;
ALTER TABLE ONLY warden.audit_events_archive ALTER COLUMN old_row SET COMPRESSION lz4;
ALTER TABLE ONLY warden.audit_events_archive ALTER COLUMN new_row SET COMPRESSION lz4;
CREATE VIEW warden.audit_events_all AS
 SELECT e.event_id,
    e.statement_id,
    e.txid,
    e.context_seq,
    e.table_id,
    e.op,
    e.at,
    e.row_key,
    e.old_key,
    e.old_row,
    e.new_row,
    false AS archived
   FROM warden.audit_events e
UNION ALL
 SELECT a.event_id,
    a.statement_id,
    a.txid,
    a.context_seq,
    a.table_id,
    a.op,
    a.at,
    a.row_key,
    a.old_key,
    a.old_row,
    a.new_row,
    true AS archived
   FROM warden.audit_events_archive a;
CREATE VIEW warden.audit_facts_all AS
 SELECT x.k AS row_key,
    e.statement_id,
    x.phase,
    e.event_id,
    e.at,
    e.op,
    e.txid,
    e.context_seq,
    x.present_before,
    x.row_before,
    x.present_after,
    x.row_after,
    e.table_id,
    e.row_key AS event_key,
    e.old_key AS event_old_key
   FROM (warden.audit_events_all e
     CROSS JOIN LATERAL ( VALUES (e.row_key,1,((e.op = 'D'::"char") OR ((e.op = 'U'::"char") AND (e.old_key IS NULL))),
                CASE
                    WHEN (e.op = 'D'::"char") THEN e.old_row
                    WHEN ((e.op = 'U'::"char") AND (e.old_key IS NULL)) THEN (e.new_row || e.old_row)
                    ELSE NULL::jsonb
                END,(e.op <> 'D'::"char"),
                CASE
                    WHEN (e.op <> 'D'::"char") THEN e.new_row
                    ELSE NULL::jsonb
                END), (e.old_key,0,true,(e.new_row || e.old_row),false,NULL::jsonb)) x(k, phase, present_before, row_before, present_after, row_after))
  WHERE ((e.op <> 'T'::"char") AND (x.k IS NOT NULL));
CREATE FUNCTION warden.audit_facts(p_table_id integer) RETURNS SETOF warden.audit_facts_all
    LANGUAGE sql STABLE
    AS $$
    select * from warden.audit_facts_all f where f.table_id = p_table_id
$$;
CREATE FUNCTION warden.audit_facts(p_table_id integer, p_key jsonb) RETURNS SETOF warden.audit_facts_all
    LANGUAGE sql STABLE
    AS $$
    select * from warden.audit_facts_all f
     where f.table_id = p_table_id and (f.event_key = p_key or f.event_old_key = p_key)
       and f.row_key = p_key
$$;
CREATE FUNCTION warden.audit_first_after(p_table_id integer, p_at timestamp with time zone) RETURNS TABLE(row_key jsonb, present boolean, row_data jsonb)
    LANGUAGE sql STABLE
    AS $$
    select f.row_key, f.present, f.row_data from warden.audit_first_after_at(p_table_id, p_at) f
$$;
CREATE FUNCTION warden.audit_first_after_at(p_table_id integer, p_at timestamp with time zone) RETURNS TABLE(row_key jsonb, present boolean, row_data jsonb, at timestamp with time zone)
    LANGUAGE plpgsql STABLE
    SET enable_nestloop TO 'off'
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    return query execute 'with ' || warden.audit_first_after_sql()
        || ' select s.row_key, s.present, s.row_data, s.at from s'
    using p_table_id, p_at;
end
$$;
CREATE FUNCTION warden.audit_first_after_sql() RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $_$
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
         where e.table_id = $1 and e.at > $2
    )$q$
$_$;
CREATE FUNCTION warden.audit_hidden_names(p_table_id integer) RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select t.hidden_columns || coalesce(
        (select array_agg(a.attname::text)
           from pg_attribute a
          where a.attrelid = t.relid and a.attnum = any(t.hidden_attnums)
            and not a.attisdropped), '{}')
      from warden.audit_tables t where t.table_id = p_table_id
$$;
CREATE FUNCTION warden.audit_key(p_table text, p_parts text[]) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    t warden.audit_tables;
    result jsonb;
    names text[];
begin
    select * into t from warden.audit_tables where table_id = warden.audit_table_id(p_table);
    if t.key_columns is null then
        raise exception 'pgwarden: % has no key (rows are identified by their content)', p_table;
    end if;
    if coalesce(array_length(p_parts, 1), 0) <> array_length(t.key_columns, 1) then
        raise exception 'pgwarden: the key of % is (%); got % value(s)', p_table,
            array_to_string(t.key_columns, ', '), coalesce(array_length(p_parts, 1), 0)
            using errcode = 'invalid_parameter_value';
    end if;
    if exists (select 1 from pg_class c where c.oid = t.relid) then
        -- Cast through the table's own row type (right whatever the search_path), using the
        -- key columns' current names (found by attribute number: they may have been renamed).
        names := warden.audit_key_names(t.table_id);
        execute format('select jsonb_build_array(%s) from jsonb_populate_record(null::%s, $1) r',
                       (select string_agg(format('to_jsonb(r.%I)', c), ', ' order by o)
                          from unnest(names) with ordinality u(c, o)),
                       t.relid::regclass)
           into result using jsonb_object(names, p_parts);
        return result;
    end if;
    -- A dropped table: key_types come from format_type() at registration.
    execute 'select jsonb_build_array(' || (
        select string_agg(format('$1[%s]::%s', i, t.key_types[i]), ', ' order by i)
          from generate_subscripts(t.key_columns, 1) i) || ')'
       into result using p_parts;
    return result;
end
$_$;
CREATE FUNCTION warden.audit_key_match_sql(p_table_id integer, p_key text, p_live text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
CREATE FUNCTION warden.audit_key_names(p_table_id integer) RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select coalesce(
        (select array_agg(a.attname::text order by k.o)
           from unnest(t.key_attnums) with ordinality k(attnum, o)
           join pg_attribute a on a.attrelid = t.relid and a.attnum = k.attnum
                              and not a.attisdropped
         having count(*) = cardinality(t.key_attnums)),
        t.key_columns)
      from warden.audit_tables t where t.table_id = p_table_id
$$;
CREATE FUNCTION warden.audit_key_sql(p_table_id integer, p_alias text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select case
        when names is null then format('to_jsonb(%I.*)', p_alias)
        else 'jsonb_build_array(' || (
            select string_agg(format('%I.%I', p_alias, c), ', ' order by o)
              from unnest(names) with ordinality k(c, o)) || ')'
        end
      from warden.audit_key_names(p_table_id) names
$$;
CREATE FUNCTION warden.audit_live_key(p_rel oid, p_image jsonb) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    with reg as (
        select t.relid, t.key_attnums from warden.audit_tables t
         where t.relid = p_rel or t.relid in (select a.relid from pg_partition_ancestors(p_rel) a)
         order by t.relid = p_rel desc limit 1
    )
    select coalesce(
        (select jsonb_agg(p_image -> a.attname order by k.ord)
           from reg
          cross join lateral unnest(reg.key_attnums) with ordinality k(attnum, ord)
           join pg_attribute a on a.attrelid = reg.relid and a.attnum = k.attnum
                              and not a.attisdropped
         having count(*) = max(cardinality(reg.key_attnums))),
        (select jsonb_agg(p_image -> a.attname order by k.ord)
           from reg
           join pg_index i on i.indrelid = reg.relid and i.indisprimary
          cross join lateral unnest(i.indkey) with ordinality k(attnum, ord)
           join pg_attribute a on a.attrelid = reg.relid and a.attnum = k.attnum),
        p_image)
$$;
CREATE FUNCTION warden.audit_moves(p_table_id integer, p_at timestamp with time zone) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select jsonb_object_agg(b.name, c.name)
      from (select distinct on (x.attnum) x.attnum, x.name from warden.audit_columns x
             where x.table_id = p_table_id and x.since <= p_at
             order by x.attnum, x.since desc) b
      join (select distinct on (x.attnum) x.attnum, x.name, x.since from warden.audit_columns x
             where x.table_id = p_table_id
             order by x.attnum, x.since desc) c on c.attnum = b.attnum
     where b.name is not null and c.since > p_at
$$;
CREATE FUNCTION warden.audit_prune(p_batch integer DEFAULT 10000, p_now timestamp with time zone DEFAULT now()) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    removed bigint;
    more bigint;
begin
    with doomed as (
        select e.tableoid, e.ctid from warden.audit_events e
          join warden.audit_tables t on t.table_id = e.table_id
         where t.retention is not null and e.at < p_now - t.retention
         limit p_batch
    )
    delete from warden.audit_events e using doomed d
     where e.tableoid = d.tableoid and e.ctid = d.ctid;
    get diagnostics removed = row_count;
    if removed < p_batch then
        with doomed as (
            select e.tableoid, e.ctid from warden.audit_events_archive e
              join warden.audit_tables t on t.table_id = e.table_id
             where t.retention is not null and e.at < p_now - t.retention
             limit p_batch - removed
        )
        delete from warden.audit_events_archive e using doomed d
         where e.tableoid = d.tableoid and e.ctid = d.ctid;
        get diagnostics more = row_count;
        removed := removed + more;
    end if;
    delete from warden.audit_contexts c
     where c.tx_started_at < p_now - (select min(retention) from warden.audit_tables)
       and not exists (select 1 from warden.audit_events e where e.txid = c.txid)
       and not exists (select 1 from warden.audit_events_archive e where e.txid = c.txid);
    return removed;
end
$$;
CREATE FUNCTION warden.audit_record_columns(p_relids oid[], p_first timestamp with time zone) RETURNS void
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
CREATE FUNCTION warden.audit_redact(p_row jsonb, p_columns text[]) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select p_row || coalesce(jsonb_object_agg(c,
               'sha256:' || encode(sha256(convert_to(s.value || (p_row ->> c), 'UTF8')), 'hex')), '{}')
      from unnest(p_columns) c, warden.secrets s
     where s.name = 'audit_redaction' and p_row ->> c is not null
$$;
CREATE FUNCTION warden.audit_rename_image(p_image jsonb, p_moves jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select case when p_moves is null or p_image is null then p_image
           else (p_image - array(select jsonb_object_keys(p_moves)))
                || coalesce((select jsonb_object_agg(m.value #>> '{}', p_image -> m.key)
                               from jsonb_each(p_moves) m
                              where p_image ? m.key and jsonb_typeof(m.value) = 'string'),
                            '{}')
           end
$$;
CREATE FUNCTION warden.audit_rename_spans(p_table_id integer, p_at timestamp with time zone) RETURNS TABLE(from_at timestamp with time zone, to_at timestamp with time zone, moves jsonb)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select s.lo, s.hi, m.moves
      from (select b.lo, lead(b.lo) over (order by b.lo) as hi
              from (select p_at as lo
                    union
                    select c.since from warden.audit_columns c
                     where c.table_id = p_table_id and c.since > p_at) b) s
     cross join lateral (select warden.audit_moves(p_table_id, s.lo) as moves) m
     where s.hi is not null and m.moves is not null
$$;
CREATE FUNCTION warden.audit_rename_sql(p_table_id integer, p_at timestamp with time zone, p_image text, p_at_expr text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
$_$;
CREATE FUNCTION warden.audit_renamed_after(p_table_id integer, p_at timestamp with time zone) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select exists (
        select 1 from warden.audit_columns c
         where c.table_id = p_table_id and c.since > p_at
           and exists (select 1 from warden.audit_columns p
                        where p.table_id = c.table_id and p.attnum = c.attnum
                          and p.since < c.since))
$$;
CREATE FUNCTION warden.audit_slot_name() RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select 'pgwarden_audit_' || left(md5(current_database()), 16)
$$;
CREATE FUNCTION warden.audit_state_at(p_table_id integer, p_at timestamp with time zone, p_key jsonb DEFAULT NULL::jsonb) RETURNS TABLE(row_key jsonb, present boolean, row_data jsonb)
    LANGUAGE sql STABLE
    AS $$
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
CREATE FUNCTION warden.audit_table_id(p_table text) RETURNS integer
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
CREATE FUNCTION warden.audit_track_columns() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
CREATE FUNCTION warden.audit_wal_signed(p_payload text) RETURNS text
    LANGUAGE sql
    AS $$
    select pg_catalog.concat(p_payload, pg_catalog.chr(31), pg_catalog.encode(pg_catalog.sha256(
               k.secret operator(pg_catalog.||) pg_catalog.sha256(
                   k.secret operator(pg_catalog.||) pg_catalog.convert_to(pg_catalog.concat(
                       pg_catalog.pg_current_xact_id(), pg_catalog.chr(31), p_payload),
                   pg_catalog.getdatabaseencoding()))),
           'hex'))
      from warden.audit_wal_key k
$$;
CREATE FUNCTION warden.audit_wal_statement() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
declare
    said text;
begin
    if pg_catalog.current_setting('pgwarden._said', true) is distinct from warden_wal.said() then
        said := warden_wal.context();
    end if;
    return null;
end
$$;
CREATE FUNCTION warden.changes_after(p_after_txid xid8, p_after_event bigint, p_limit integer DEFAULT 1000, p_table_id integer DEFAULT NULL::integer) RETURNS TABLE(event_id bigint, txid xid8, at timestamp with time zone, table_name text, op "char", row_key jsonb, old_key jsonb, old_row jsonb, new_row jsonb, actor text, tenant text, reason text, request_id text)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select e.event_id, e.txid, e.at, t.schema_name || '.' || t.table_name, e.op, e.row_key,
           e.old_key, e.old_row, e.new_row, c.actor, c.tenant, c.reason, c.request_id
      from warden.audit_events_all e
      join warden.audit_tables t on t.table_id = e.table_id
      left join warden.audit_contexts c
        on c.txid = e.txid and c.context_seq = e.context_seq
     where e.txid >= p_after_txid
       and (e.txid > p_after_txid or e.event_id > p_after_event)
       and e.txid < (select warden.feed_horizon())
       and (p_table_id is null or e.table_id = p_table_id)
     order by e.txid, e.event_id
     limit p_limit
$$;
CREATE FUNCTION warden.feed_horizon() RETURNS xid8
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select least(
        warden.running_horizon(),
        (select coalesce((select w.horizon from warden.audit_wal w
                           where w.slot_name = s.slot_name), '0'::xid8)
           from pg_replication_slots s where s.slot_name = warden.audit_slot_name()))
$$;
CREATE FUNCTION warden.hard_delete_allowed() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select coalesce(current_setting('pgwarden.hard_delete', true), '') = value
      from warden.secrets where name = 'hard_delete'
$$;
CREATE FUNCTION warden.history(p_table text, p_key jsonb) RETURNS TABLE(version integer, valid_from timestamp with time zone, valid_to timestamp with time zone, op text, row_data jsonb, changed text[], actor text, tenant text, reason text, request_id text, txid xid8, event_id bigint)
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
begin
    return query
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
     order by 1;
end
$$;
CREATE FUNCTION warden.public_accounts__audit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    AS $$-- Captures every change of public.accounts into warden.audit_events, one INSERT per statement.
declare
    tid int;
    txv xid8;
    seq int;
    sid bigint;
    sig text;
    flag text;
    fresh boolean := false;
    excluded text[];
    redacted text[];
    at_ timestamptz := clock_timestamp();
    written bigint := 0;
begin
    tid := 18555;
    if tg_op = 'TRUNCATE' then
        txv := pg_current_xact_id();
    else
        -- No transaction id yet: this statement changed no row, nor did any before it.
        txv := pg_current_xact_id_if_assigned();
        if txv is null then
            return null;
        end if;
    end if;
    -- The transaction's context is recorded once per transaction (again, with the next
    -- sequence number, if the settings change mid-transaction). Simple expressions only.
    sig := concat_ws(chr(31), current_setting('pgwarden.actor', true),
                     current_setting('pgwarden.tenant', true),
                     current_setting('pgwarden.reason', true),
                     current_setting('pgwarden.request_id', true));
    flag := current_setting('pgwarden._context', true);
    if flag is not null and split_part(flag, ':', 1) = txv::text then
        seq := split_part(flag, ':', 2)::int;
        if flag <> txv::text || ':' || seq || ':' || sig then
            seq := seq + 1;
            fresh := true;
        end if;
    else
        seq := 1;
        fresh := true;
    end if;
    sid := nextval('warden.audit_statement_seq');
    if tg_op = 'INSERT' then
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,
                                         new_row)
        select sid, txv, seq, tid, 'I', at_, case when "nj" ?& '{id}' then jsonb_build_array("nj" -> 'id') else warden.audit_live_key(tg_relid, "nj") end, s.nj
          from (select to_jsonb("n".*) as nj from new_rows n) s;
        get diagnostics written = row_count;
    elsif tg_op = 'UPDATE' then
        -- Old and new transition tables hold the rows in the same order, which pairs them
        -- even when the statement changed keys (shifts, swaps, cross-partition moves). The
        -- function runs with enable_nestloop off, so that a plan cached from a one-row
        -- statement never pairs a big one with a nested loop (quadratic in rows).
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key, old_key, old_row, new_row) select sid, txv, seq, tid, 'U', at_, k.nk, nullif(k.ok, k.nk), a.oj, b.nj from (select row_number() over () as i, to_jsonb("o".*) as oj from old_rows o) a join (select row_number() over () as i, to_jsonb("n".*) as nj from new_rows n) b on a.i = b.i cross join lateral (select case when "oj" ?& '{id}' then jsonb_build_array("oj" -> 'id') else warden.audit_live_key(tg_relid, "oj") end as ok, case when "nj" ?& '{id}' then jsonb_build_array("nj" -> 'id') else warden.audit_live_key(tg_relid, "nj") end as nk) k where a.oj is distinct from b.nj;
        get diagnostics written = row_count;
    elsif tg_op = 'DELETE' then
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,
                                         old_row)
        select sid, txv, seq, tid, 'D', at_, case when "oj" ?& '{id}' then jsonb_build_array("oj" -> 'id') else warden.audit_live_key(tg_relid, "oj") end, s.oj
          from (select to_jsonb("o".*) as oj from old_rows o) s;
        get diagnostics written = row_count;
    elsif tg_op = 'TRUNCATE' and tg_relid = (select t.relid from warden.audit_tables t
                                              where t.table_id = tid) then
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at)
        values (sid, txv, seq, tid, 'T', at_);
        insert into warden.audit_events (statement_id, txid, context_seq, table_id,
                                         op, at, row_key, old_row)
        select sid, txv, seq, tid, 'D', at_, case when "oj" ?& '{id}' then jsonb_build_array("oj" -> 'id') else warden.audit_live_key(tg_relid, "oj") end, s.oj
          from (select to_jsonb("o".*) as oj from "public"."accounts" o) s;
        written := 1;
    elsif tg_op = 'TRUNCATE' then
        -- The partitions' own TRUNCATE triggers fire right after the table's, in the same
        -- statement: its rows are recorded already. Told by the store (only its owner writes
        -- it), not by a setting a session could forge to hide a partition's rows: when this
        -- table's latest statement in the transaction truncated it whole, every partition
        -- is empty since, and there is nothing to record.
        if exists (select 1 from warden.audit_events e
                    where e.txid = txv and e.table_id = tid and e.op = 'T'
                      and e.statement_id = (select max(l.statement_id)
                                              from warden.audit_events l
                                             where l.txid = txv and l.table_id = tid)) then
            return null;
        end if;
        -- One partition truncated on its own: its rows go, one event each (a table-wide
        -- truncate mark would wipe the other partitions from time travel).
        insert into warden.audit_events (statement_id, txid, context_seq, table_id,
                                         op, at, row_key, old_row)
        select sid, txv, seq, tid, 'D', at_, case when "oj" ?& '{id}' then jsonb_build_array("oj" -> 'id') else warden.audit_live_key(tg_relid, "oj") end, s.oj
          from (select to_jsonb("o".*) as oj from "public"."accounts" o where o.tableoid in (select p.relid from pg_catalog.pg_partition_tree(tg_relid) p where p.isleaf)) s;
        get diagnostics written = row_count;
    end if;
    -- Written whenever events were, not only when the flag says it is missing: the flag is a
    -- setting any session can change, and must not be able to leave events without context.
    if written > 0 then
        insert into warden.audit_contexts (txid, context_seq, tx_started_at, actor, tenant, reason,
                request_id, login_role, acting_role, client_addr, application_name, backend_pid)
        values (txv, seq, now(),
                nullif(current_setting('pgwarden.actor', true), ''),
                nullif(current_setting('pgwarden.tenant', true), ''),
                nullif(current_setting('pgwarden.reason', true), ''),
                nullif(current_setting('pgwarden.request_id', true), ''),
                session_user,
                -- SECURITY DEFINER hides the caller's current_user; SET ROLE shows here.
                coalesce(nullif(current_setting('role'), 'none'), session_user),
                inet_client_addr(), current_setting('application_name'), pg_backend_pid())
        on conflict do nothing;
        if fresh then
            -- Transaction-local, like the settings it summarises: numbers the next context.
            flag := set_config('pgwarden._context', txv::text || ':' || seq || ':' || sig, true);
            -- Wakes `pgwarden changes --follow` readers; delivered once, at commit.
            flag := pg_notify('pgwarden_changes', '')::text;
        end if;
    end if;
    return null;
end
$$;
CREATE FUNCTION warden.public_accounts__live_delete() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$begin
    delete from "public"."accounts" t where "t"."id" = "old"."id";
    return OLD;
end$$;
CREATE FUNCTION warden.public_accounts__soft_delete() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$-- BEFORE DELETE on "public"."accounts": a DELETE marks the row instead. Generated by pgwarden (soft_delete).
begin
    if warden.hard_delete_allowed() then
        return OLD;  -- the privileged path: warden.allow_hard_delete() was called
    end if;
    if OLD."deleted_at" is null then
        -- Consistent as written (who, which deletion): the state trigger has nothing to do,
        -- and the DELETE already holds the row FOR UPDATE. The cascade trigger follows keys.
        update "public"."accounts" t set "deleted_at" = now(), "deleted_by" = coalesce(nullif(current_setting('pgwarden.actor', true), ''), session_user), "deletion_id" = nextval('warden.deletion_ids')
         where "t"."id" = "old"."id";
    end if;
    return null;  -- the row stays
end
$$;
CREATE FUNCTION warden.public_accounts__soft_delete_state() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$-- BEFORE UPDATE on "public"."accounts": keeps who deleted a row, and which deletion, consistent with
begin
    if NEW."deleted_at" is not null and OLD."deleted_at" is null then
        -- Taken before any cascade reads the children: a transaction attaching a child to
        -- this row (it holds a KEY SHARE lock on it) finishes first, and is then cascaded.
        perform 1 from "public"."accounts" t where "t"."id" = "old"."id" for update;
        NEW."deleted_by" := coalesce(NEW."deleted_by", coalesce(nullif(current_setting('pgwarden.actor', true), ''), session_user));
        if NEW."deletion_id" is null then
            NEW."deletion_id" := nextval('warden.deletion_ids');
        end if;
    elsif NEW."deleted_at" is null then
        NEW."deleted_by" := null;
        NEW."deletion_id" := null;
    else
        NEW."deleted_by" := OLD."deleted_by";
        NEW."deletion_id" := OLD."deletion_id";  -- a deleted row keeps the deletion that removed it
    end if;
    return NEW;
end
$$;
CREATE FUNCTION warden.public_accounts__soft_delete_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$-- BEFORE TRUNCATE on "public"."accounts": removing every row is a hard delete. Generated by pgwarden.
begin
    if not warden.hard_delete_allowed() then
        raise exception using errcode = 'insufficient_privilege',
            message = 'TRUNCATE of public.accounts would hard-delete every row (soft_delete is on)',
            hint = 'call warden.allow_hard_delete() in the transaction (a privileged function)';
    end if;
    return null;
end
$$;
CREATE FUNCTION warden.public_events__audit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    AS $$-- Captures every change of public.events into warden.audit_events, one INSERT per statement.
declare
    tid int;
    txv xid8;
    seq int;
    sid bigint;
    sig text;
    flag text;
    fresh boolean := false;
    excluded text[];
    redacted text[];
    at_ timestamptz := clock_timestamp();
    written bigint := 0;
begin
    tid := 18562;
    if tg_op = 'TRUNCATE' then
        txv := pg_current_xact_id();
    else
        -- No transaction id yet: this statement changed no row, nor did any before it.
        txv := pg_current_xact_id_if_assigned();
        if txv is null then
            return null;
        end if;
    end if;
    -- The transaction's context is recorded once per transaction (again, with the next
    -- sequence number, if the settings change mid-transaction). Simple expressions only.
    sig := concat_ws(chr(31), current_setting('pgwarden.actor', true),
                     current_setting('pgwarden.tenant', true),
                     current_setting('pgwarden.reason', true),
                     current_setting('pgwarden.request_id', true));
    flag := current_setting('pgwarden._context', true);
    if flag is not null and split_part(flag, ':', 1) = txv::text then
        seq := split_part(flag, ':', 2)::int;
        if flag <> txv::text || ':' || seq || ':' || sig then
            seq := seq + 1;
            fresh := true;
        end if;
    else
        seq := 1;
        fresh := true;
    end if;
    sid := nextval('warden.audit_statement_seq');
    if tg_op = 'INSERT' then
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,
                                         new_row)
        select sid, txv, seq, tid, 'I', at_, case when "nj" ?& '{id,at}' then jsonb_build_array("nj" -> 'id', "nj" -> 'at') else warden.audit_live_key(tg_relid, "nj") end, s.nj
          from (select to_jsonb("n".*) as nj from new_rows n) s;
        get diagnostics written = row_count;
    elsif tg_op = 'UPDATE' then
        -- Old and new transition tables hold the rows in the same order, which pairs them
        -- even when the statement changed keys (shifts, swaps, cross-partition moves). The
        -- function runs with enable_nestloop off, so that a plan cached from a one-row
        -- statement never pairs a big one with a nested loop (quadratic in rows).
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key, old_key, old_row, new_row) select sid, txv, seq, tid, 'U', at_, k.nk, nullif(k.ok, k.nk), a.oj, b.nj from (select row_number() over () as i, to_jsonb("o".*) as oj from old_rows o) a join (select row_number() over () as i, to_jsonb("n".*) as nj from new_rows n) b on a.i = b.i cross join lateral (select case when "oj" ?& '{id,at}' then jsonb_build_array("oj" -> 'id', "oj" -> 'at') else warden.audit_live_key(tg_relid, "oj") end as ok, case when "nj" ?& '{id,at}' then jsonb_build_array("nj" -> 'id', "nj" -> 'at') else warden.audit_live_key(tg_relid, "nj") end as nk) k where a.oj is distinct from b.nj;
        get diagnostics written = row_count;
    elsif tg_op = 'DELETE' then
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,
                                         old_row)
        select sid, txv, seq, tid, 'D', at_, case when "oj" ?& '{id,at}' then jsonb_build_array("oj" -> 'id', "oj" -> 'at') else warden.audit_live_key(tg_relid, "oj") end, s.oj
          from (select to_jsonb("o".*) as oj from old_rows o) s;
        get diagnostics written = row_count;
    elsif tg_op = 'TRUNCATE' and tg_relid = (select t.relid from warden.audit_tables t
                                              where t.table_id = tid) then
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at)
        values (sid, txv, seq, tid, 'T', at_);
        insert into warden.audit_events (statement_id, txid, context_seq, table_id,
                                         op, at, row_key, old_row)
        select sid, txv, seq, tid, 'D', at_, case when "oj" ?& '{id,at}' then jsonb_build_array("oj" -> 'id', "oj" -> 'at') else warden.audit_live_key(tg_relid, "oj") end, s.oj
          from (select to_jsonb("o".*) as oj from "public"."events" o) s;
        written := 1;
    elsif tg_op = 'TRUNCATE' then
        -- The partitions' own TRUNCATE triggers fire right after the table's, in the same
        -- statement: its rows are recorded already. Told by the store (only its owner writes
        -- it), not by a setting a session could forge to hide a partition's rows: when this
        -- table's latest statement in the transaction truncated it whole, every partition
        -- is empty since, and there is nothing to record.
        if exists (select 1 from warden.audit_events e
                    where e.txid = txv and e.table_id = tid and e.op = 'T'
                      and e.statement_id = (select max(l.statement_id)
                                              from warden.audit_events l
                                             where l.txid = txv and l.table_id = tid)) then
            return null;
        end if;
        -- One partition truncated on its own: its rows go, one event each (a table-wide
        -- truncate mark would wipe the other partitions from time travel).
        insert into warden.audit_events (statement_id, txid, context_seq, table_id,
                                         op, at, row_key, old_row)
        select sid, txv, seq, tid, 'D', at_, case when "oj" ?& '{id,at}' then jsonb_build_array("oj" -> 'id', "oj" -> 'at') else warden.audit_live_key(tg_relid, "oj") end, s.oj
          from (select to_jsonb("o".*) as oj from "public"."events" o where o.tableoid in (select p.relid from pg_catalog.pg_partition_tree(tg_relid) p where p.isleaf)) s;
        get diagnostics written = row_count;
    end if;
    -- Written whenever events were, not only when the flag says it is missing: the flag is a
    -- setting any session can change, and must not be able to leave events without context.
    if written > 0 then
        insert into warden.audit_contexts (txid, context_seq, tx_started_at, actor, tenant, reason,
                request_id, login_role, acting_role, client_addr, application_name, backend_pid)
        values (txv, seq, now(),
                nullif(current_setting('pgwarden.actor', true), ''),
                nullif(current_setting('pgwarden.tenant', true), ''),
                nullif(current_setting('pgwarden.reason', true), ''),
                nullif(current_setting('pgwarden.request_id', true), ''),
                session_user,
                -- SECURITY DEFINER hides the caller's current_user; SET ROLE shows here.
                coalesce(nullif(current_setting('role'), 'none'), session_user),
                inet_client_addr(), current_setting('application_name'), pg_backend_pid())
        on conflict do nothing;
        if fresh then
            -- Transaction-local, like the settings it summarises: numbers the next context.
            flag := set_config('pgwarden._context', txv::text || ':' || seq || ':' || sig, true);
            -- Wakes `pgwarden changes --follow` readers; delivered once, at commit.
            flag := pg_notify('pgwarden_changes', '')::text;
        end if;
    end if;
    return null;
end
$$;
CREATE FUNCTION warden.public_events__audit_rows() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    AS $$-- Captures every change of public.events into warden.audit_events, one call per row.
declare
    tid int;
    txv xid8;
    seq int;
    sid bigint;
    sig text;
    flag text;
    fresh boolean := false;
    excluded text[];
    redacted text[];
    at_ timestamptz := clock_timestamp();
    written bigint := 1;
    open_statement text;
    oj jsonb;
    nj jsonb;
    ok jsonb;
    nk jsonb;
begin
    tid := 18562;
    if tg_level = 'STATEMENT' then
        perform set_config('pgwarden._rows_' || tid, '', true);
        return null;
    end if;
    if tg_op = 'UPDATE' or tg_op = 'DELETE' then
        oj := (select to_jsonb("o".*) from (select old.*) o);
        ok := case when "oj" ?& '{id,at}' then jsonb_build_array("oj" -> 'id', "oj" -> 'at') else warden.audit_live_key(tg_relid, "oj") end;
    end if;
    if tg_op = 'UPDATE' or tg_op = 'INSERT' then
        nj := (select to_jsonb("n".*) from (select new.*) n);
        nk := case when "nj" ?& '{id,at}' then jsonb_build_array("nj" -> 'id', "nj" -> 'at') else warden.audit_live_key(tg_relid, "nj") end;
    end if;
    if tg_op = 'UPDATE' and not (oj is distinct from nj) then
        return null;
    end if;
    txv := pg_current_xact_id();
    -- The transaction's context is recorded once per transaction (again, with the next
    -- sequence number, if the settings change mid-transaction). Simple expressions only.
    sig := concat_ws(chr(31), current_setting('pgwarden.actor', true),
                     current_setting('pgwarden.tenant', true),
                     current_setting('pgwarden.reason', true),
                     current_setting('pgwarden.request_id', true));
    flag := current_setting('pgwarden._context', true);
    if flag is not null and split_part(flag, ':', 1) = txv::text then
        seq := split_part(flag, ':', 2)::int;
        if flag <> txv::text || ':' || seq || ':' || sig then
            seq := seq + 1;
            fresh := true;
        end if;
    else
        seq := 1;
        fresh := true;
    end if;
    open_statement := current_setting('pgwarden._rows_' || tid, true);
    if split_part(open_statement, '@', 2) is distinct from statement_timestamp()::text then
        -- Two ids per statement: its deletes take the first, so they come before its other
        -- changes (an UPDATE moving a row to another partition deletes and inserts it).
        sid := nextval('warden.audit_statement_seq');
        open_statement := sid || ':' || nextval('warden.audit_statement_seq') || '@'
                          || statement_timestamp();
        perform set_config('pgwarden._rows_' || tid, open_statement, true);
    end if;
    sid := split_part(split_part(open_statement, '@', 1), ':',
                      case when tg_op = 'DELETE' then 1 else 2 end)::bigint;
    if tg_op = 'INSERT' then
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,
                                         new_row)
        values (sid, txv, seq, tid, 'I', at_, nk, nj);
    elsif tg_op = 'UPDATE' then
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,
                                         old_key, old_row, new_row)
        values (sid, txv, seq, tid, 'U', at_, nk, nullif(ok, nk), oj, nj);
    else
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,
                                         old_row)
        values (sid, txv, seq, tid, 'D', at_, ok, oj);
    end if;
    -- Written whenever events were, not only when the flag says it is missing: the flag is a
    -- setting any session can change, and must not be able to leave events without context.
    if written > 0 then
        insert into warden.audit_contexts (txid, context_seq, tx_started_at, actor, tenant, reason,
                request_id, login_role, acting_role, client_addr, application_name, backend_pid)
        values (txv, seq, now(),
                nullif(current_setting('pgwarden.actor', true), ''),
                nullif(current_setting('pgwarden.tenant', true), ''),
                nullif(current_setting('pgwarden.reason', true), ''),
                nullif(current_setting('pgwarden.request_id', true), ''),
                session_user,
                -- SECURITY DEFINER hides the caller's current_user; SET ROLE shows here.
                coalesce(nullif(current_setting('role'), 'none'), session_user),
                inet_client_addr(), current_setting('application_name'), pg_backend_pid())
        on conflict do nothing;
        if fresh then
            -- Transaction-local, like the settings it summarises: numbers the next context.
            flag := set_config('pgwarden._context', txv::text || ':' || seq || ':' || sig, true);
            -- Wakes `pgwarden changes --follow` readers; delivered once, at commit.
            flag := pg_notify('pgwarden_changes', '')::text;
        end if;
    end if;
    return null;
end
$$;
CREATE FUNCTION warden.public_notes__audit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$-- Marks the statements on public.notes in the WAL for pgwarden's ingester (capture = "wal").
declare
    tid int;
    excluded text[];
    redacted text[];
    written bigint;
    sent pg_lsn;
    said text;
begin
    tid := 18572;
    if tg_when = 'AFTER' then
        sent := pg_logical_emit_message(true, 'pgwarden.audit',
            warden.audit_wal_signed('E' || json_build_array(tid)::text));
        return null;
    end if;
    said := warden_wal.context();
    if tg_op = 'UPDATE' then
        sent := pg_logical_emit_message(true, 'pgwarden.audit',
            warden.audit_wal_signed('B' || json_build_array(tid)::text));
    elsif tg_op = 'TRUNCATE' then
        -- Its partitions too: their own TRUNCATE triggers (same statement) record nothing.
        sent := pg_logical_emit_message(true, 'pgwarden.audit', warden.audit_wal_signed(
            'T' || json_build_array(tid, tg_relid::bigint, array(
                select p.relid::oid::bigint from pg_catalog.pg_partition_tree(tg_relid) p))::text));
        select count(pg_logical_emit_message(true, 'pgwarden.audit', warden.audit_wal_signed('R' || (to_jsonb("o".*))::text))) into written
          from "public"."notes" o where o.tableoid = tg_relid or o.tableoid in (select p.relid from pg_catalog.pg_partition_tree(tg_relid) p where p.isleaf);
    end if;
    return null;
end
$$;
CREATE FUNCTION warden.public_orders__audit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    AS $$-- Captures every change of public.orders into warden.audit_events, one INSERT per statement.
declare
    tid int;
    txv xid8;
    seq int;
    sid bigint;
    sig text;
    flag text;
    fresh boolean := false;
    excluded text[];
    redacted text[];
    at_ timestamptz := clock_timestamp();
    written bigint := 0;
begin
    tid := 18567;
    if tg_op = 'TRUNCATE' then
        txv := pg_current_xact_id();
    else
        -- No transaction id yet: this statement changed no row, nor did any before it.
        txv := pg_current_xact_id_if_assigned();
        if txv is null then
            return null;
        end if;
    end if;
    -- The transaction's context is recorded once per transaction (again, with the next
    -- sequence number, if the settings change mid-transaction). Simple expressions only.
    sig := concat_ws(chr(31), current_setting('pgwarden.actor', true),
                     current_setting('pgwarden.tenant', true),
                     current_setting('pgwarden.reason', true),
                     current_setting('pgwarden.request_id', true));
    flag := current_setting('pgwarden._context', true);
    if flag is not null and split_part(flag, ':', 1) = txv::text then
        seq := split_part(flag, ':', 2)::int;
        if flag <> txv::text || ':' || seq || ':' || sig then
            seq := seq + 1;
            fresh := true;
        end if;
    else
        seq := 1;
        fresh := true;
    end if;
    sid := nextval('warden.audit_statement_seq');
    if tg_op = 'INSERT' then
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,
                                         new_row)
        select sid, txv, seq, tid, 'I', at_, case when "nj" ?& '{id}' then jsonb_build_array("nj" -> 'id') else warden.audit_live_key(tg_relid, "nj") end, s.nj
          from (select to_jsonb("n".*) as nj from new_rows n) s;
        get diagnostics written = row_count;
    elsif tg_op = 'UPDATE' then
        -- Old and new transition tables hold the rows in the same order, which pairs them
        -- even when the statement changed keys (shifts, swaps, cross-partition moves). The
        -- function runs with enable_nestloop off, so that a plan cached from a one-row
        -- statement never pairs a big one with a nested loop (quadratic in rows).
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key, old_key, old_row, new_row) select sid, txv, seq, tid, 'U', at_, k.nk, nullif(k.ok, k.nk), a.oj, b.nj from (select row_number() over () as i, to_jsonb("o".*) as oj from old_rows o) a join (select row_number() over () as i, to_jsonb("n".*) as nj from new_rows n) b on a.i = b.i cross join lateral (select case when "oj" ?& '{id}' then jsonb_build_array("oj" -> 'id') else warden.audit_live_key(tg_relid, "oj") end as ok, case when "nj" ?& '{id}' then jsonb_build_array("nj" -> 'id') else warden.audit_live_key(tg_relid, "nj") end as nk) k where a.oj is distinct from b.nj;
        get diagnostics written = row_count;
    elsif tg_op = 'DELETE' then
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,
                                         old_row)
        select sid, txv, seq, tid, 'D', at_, case when "oj" ?& '{id}' then jsonb_build_array("oj" -> 'id') else warden.audit_live_key(tg_relid, "oj") end, s.oj
          from (select to_jsonb("o".*) as oj from old_rows o) s;
        get diagnostics written = row_count;
    elsif tg_op = 'TRUNCATE' and tg_relid = (select t.relid from warden.audit_tables t
                                              where t.table_id = tid) then
        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at)
        values (sid, txv, seq, tid, 'T', at_);
        insert into warden.audit_events (statement_id, txid, context_seq, table_id,
                                         op, at, row_key, old_row)
        select sid, txv, seq, tid, 'D', at_, case when "oj" ?& '{id}' then jsonb_build_array("oj" -> 'id') else warden.audit_live_key(tg_relid, "oj") end, s.oj
          from (select to_jsonb("o".*) as oj from "public"."orders" o) s;
        written := 1;
    elsif tg_op = 'TRUNCATE' then
        -- The partitions' own TRUNCATE triggers fire right after the table's, in the same
        -- statement: its rows are recorded already. Told by the store (only its owner writes
        -- it), not by a setting a session could forge to hide a partition's rows: when this
        -- table's latest statement in the transaction truncated it whole, every partition
        -- is empty since, and there is nothing to record.
        if exists (select 1 from warden.audit_events e
                    where e.txid = txv and e.table_id = tid and e.op = 'T'
                      and e.statement_id = (select max(l.statement_id)
                                              from warden.audit_events l
                                             where l.txid = txv and l.table_id = tid)) then
            return null;
        end if;
        -- One partition truncated on its own: its rows go, one event each (a table-wide
        -- truncate mark would wipe the other partitions from time travel).
        insert into warden.audit_events (statement_id, txid, context_seq, table_id,
                                         op, at, row_key, old_row)
        select sid, txv, seq, tid, 'D', at_, case when "oj" ?& '{id}' then jsonb_build_array("oj" -> 'id') else warden.audit_live_key(tg_relid, "oj") end, s.oj
          from (select to_jsonb("o".*) as oj from "public"."orders" o where o.tableoid in (select p.relid from pg_catalog.pg_partition_tree(tg_relid) p where p.isleaf)) s;
        get diagnostics written = row_count;
    end if;
    -- Written whenever events were, not only when the flag says it is missing: the flag is a
    -- setting any session can change, and must not be able to leave events without context.
    if written > 0 then
        insert into warden.audit_contexts (txid, context_seq, tx_started_at, actor, tenant, reason,
                request_id, login_role, acting_role, client_addr, application_name, backend_pid)
        values (txv, seq, now(),
                nullif(current_setting('pgwarden.actor', true), ''),
                nullif(current_setting('pgwarden.tenant', true), ''),
                nullif(current_setting('pgwarden.reason', true), ''),
                nullif(current_setting('pgwarden.request_id', true), ''),
                session_user,
                -- SECURITY DEFINER hides the caller's current_user; SET ROLE shows here.
                coalesce(nullif(current_setting('role'), 'none'), session_user),
                inet_client_addr(), current_setting('application_name'), pg_backend_pid())
        on conflict do nothing;
        if fresh then
            -- Transaction-local, like the settings it summarises: numbers the next context.
            flag := set_config('pgwarden._context', txv::text || ':' || seq || ':' || sig, true);
            -- Wakes `pgwarden changes --follow` readers; delivered once, at commit.
            flag := pg_notify('pgwarden_changes', '')::text;
        end if;
    end if;
    return null;
end
$$;
CREATE FUNCTION warden.put_row(p_rel regclass, p_key jsonb, p_present boolean, p_image jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
$_$;
CREATE FUNCTION warden.revert_transaction(p_txid xid8) RETURNS TABLE(table_name text, row_key jsonb, action text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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
CREATE FUNCTION warden.row_as_of(p_row anyelement, p_key jsonb, p_at timestamp with time zone) RETURNS SETOF anyelement
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
$_$;
CREATE FUNCTION warden.running_horizon() RETURNS xid8
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select coalesce(
        (select min(x) from pg_snapshot_xip(snap.s) x
          where not exists (
                select 1 from pg_stat_activity a
                 where (a.datname is distinct from current_database()
                        or a.backend_type = 'autovacuum worker')
                   and a.backend_xid is not null
                   and a.backend_xid::text::bigint = x::text::bigint % 4294967296)
            and not exists (
                select 1 from pg_prepared_xacts p
                 where p.database <> current_database()
                   and p.transaction::text::bigint = x::text::bigint % 4294967296)),
        pg_snapshot_xmax(snap.s))
      from (select pg_current_snapshot() as s) snap
$$;
CREATE FUNCTION warden.versions(p_table_id integer) RETURNS TABLE(row_key jsonb, version integer, valid_from timestamp with time zone, valid_to timestamp with time zone, op text, row_data jsonb, actor text, tenant text, reason text, request_id text, txid xid8, event_id bigint)
    LANGUAGE sql STABLE
    AS $$
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
CREATE FUNCTION warden_wal.context() RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    sent pg_lsn;
begin
    if current_setting('pgwarden._said', true) is not distinct from warden_wal.said() then
        return null;
    end if;
    sent := pg_logical_emit_message(true, 'pgwarden.audit', warden.audit_wal_signed(
        'C' || json_build_array(
            session_user,
            -- SECURITY DEFINER hides the caller's current_user; SET ROLE shows here.
            coalesce(nullif(current_setting('role'), 'none'), session_user),
            host(inet_client_addr()), pg_backend_pid(),
            nullif(current_setting('pgwarden.actor', true), ''),
            nullif(current_setting('pgwarden.tenant', true), ''),
            nullif(current_setting('pgwarden.reason', true), ''),
            nullif(current_setting('pgwarden.request_id', true), ''),
            current_setting('application_name'), now())::text));
    -- The transaction has its id now (the message took one): the flag holds it.
    return set_config('pgwarden._said', warden_wal.said(), true);
end
$$;
CREATE FUNCTION warden_wal.said() RETURNS text
    LANGUAGE sql
    AS $$
    select pg_catalog.concat(pg_catalog.pg_current_xact_id_if_assigned(), pg_catalog.chr(31),
        pg_catalog.current_setting('pgwarden.actor', true), pg_catalog.chr(31),
        pg_catalog.current_setting('pgwarden.tenant', true), pg_catalog.chr(31),
        pg_catalog.current_setting('pgwarden.reason', true), pg_catalog.chr(31),
        pg_catalog.current_setting('pgwarden.request_id', true), pg_catalog.chr(31),
        pg_catalog.current_setting('application_name'), pg_catalog.chr(31),
        pg_catalog.current_setting('role'))
$$;
SET default_table_access_method = heap;
CREATE TABLE archive.orders (
    archived_at timestamp with time zone DEFAULT now() NOT NULL,
    archived_by text,
    archive_reason text,
    id integer NOT NULL,
    placed date,
    total integer
);
CREATE TABLE public.accounts (
    id integer NOT NULL,
    full_name text NOT NULL,
    balance integer NOT NULL,
    deleted_at timestamp with time zone,
    deleted_by text,
    deletion_id bigint
);
CREATE VIEW public.accounts__live WITH (security_invoker='true') AS
 SELECT accounts.id,
    accounts.full_name AS name,
    accounts.balance,
    accounts.deleted_at,
    accounts.deleted_by,
    accounts.deletion_id
   FROM public.accounts
  WHERE (accounts.deleted_at IS NULL);
CREATE VIEW public.accounts__versions AS
 SELECT v.version,
    v.valid_from,
    v.valid_to,
    v.op,
    v.actor,
    v.tenant,
    v.reason,
    v.request_id,
    v.txid,
    v.event_id,
    v.row_key,
    (jsonb_populate_record(NULL::public.accounts, v.row_data)).id AS id,
    (jsonb_populate_record(NULL::public.accounts, v.row_data)).full_name AS name,
    (jsonb_populate_record(NULL::public.accounts, v.row_data)).balance AS balance,
    (jsonb_populate_record(NULL::public.accounts, v.row_data)).deleted_at AS deleted_at,
    (jsonb_populate_record(NULL::public.accounts, v.row_data)).deleted_by AS deleted_by,
    (jsonb_populate_record(NULL::public.accounts, v.row_data)).deletion_id AS deletion_id
   FROM warden.versions(warden.audit_table_id('"public"."accounts"'::text)) v(row_key, version, valid_from, valid_to, op, row_data, actor, tenant, reason, request_id, txid, event_id);
CREATE TABLE public.events (
    id integer NOT NULL,
    at timestamp with time zone NOT NULL,
    kind text
)
PARTITION BY RANGE (at);
CREATE TABLE public.events__default (
    id integer NOT NULL,
    at timestamp with time zone NOT NULL,
    kind text
);
CREATE TABLE public.events__p202612 (
    id integer NOT NULL,
    at timestamp with time zone NOT NULL,
    kind text
);
CREATE TABLE public.events__p202701 (
    id integer NOT NULL,
    at timestamp with time zone NOT NULL,
    kind text
);
CREATE TABLE public.notes (
    id integer NOT NULL,
    body text
);
ALTER TABLE ONLY public.notes REPLICA IDENTITY FULL;
CREATE TABLE public.orders (
    id integer NOT NULL,
    placed date NOT NULL,
    total integer NOT NULL
);
CREATE VIEW public.orders__all WITH (security_invoker='true') AS
 SELECT orders.id,
    orders.placed,
    orders.total,
    NULL::timestamp with time zone AS archived_at,
    'live'::text AS row_location
   FROM public.orders
UNION ALL
 SELECT orders.id,
    orders.placed,
    orders.total,
    orders.archived_at,
    'archive'::text AS row_location
   FROM archive.orders;
CREATE TABLE warden.applies (
    apply_id bigint NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL,
    applied_by text DEFAULT CURRENT_USER NOT NULL,
    pgwarden_version text NOT NULL,
    plan_fingerprint text NOT NULL,
    changes jsonb NOT NULL
);
ALTER TABLE warden.applies ALTER COLUMN apply_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME warden.applies_apply_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
CREATE TABLE warden.audit_columns (
    table_id integer NOT NULL,
    attnum smallint NOT NULL,
    name text,
    since timestamp with time zone NOT NULL,
    txid xid8
);
CREATE TABLE warden.audit_contexts (
    txid xid8 NOT NULL,
    context_seq smallint NOT NULL,
    tx_started_at timestamp with time zone NOT NULL,
    actor text,
    tenant text,
    reason text,
    request_id text,
    login_role text NOT NULL,
    acting_role text NOT NULL,
    client_addr inet,
    application_name text,
    backend_pid integer NOT NULL
);
CREATE TABLE warden.audit_events__default (
    event_id bigint NOT NULL,
    statement_id bigint NOT NULL,
    txid xid8 NOT NULL,
    context_seq smallint NOT NULL,
    table_id integer NOT NULL,
    op "char" NOT NULL,
    at timestamp with time zone NOT NULL,
    row_key jsonb,
    old_key jsonb,
    old_row jsonb,
    new_row jsonb,
    CONSTRAINT audit_events_op_check CHECK ((op = ANY (ARRAY['I'::"char", 'U'::"char", 'D'::"char", 'T'::"char"])))
);
CREATE TABLE warden.audit_events__history (
    event_id bigint NOT NULL,
    statement_id bigint NOT NULL,
    txid xid8 NOT NULL,
    context_seq smallint NOT NULL,
    table_id integer NOT NULL,
    op "char" NOT NULL,
    at timestamp with time zone NOT NULL,
    row_key jsonb,
    old_key jsonb,
    old_row jsonb,
    new_row jsonb,
    CONSTRAINT audit_events_op_check CHECK ((op = ANY (ARRAY['I'::"char", 'U'::"char", 'D'::"char", 'T'::"char"])))
);
CREATE TABLE warden.audit_events__p202701 (
    event_id bigint NOT NULL,
    statement_id bigint NOT NULL,
    txid xid8 NOT NULL,
    context_seq smallint NOT NULL,
    table_id integer NOT NULL,
    op "char" NOT NULL,
    at timestamp with time zone NOT NULL,
    row_key jsonb,
    old_key jsonb,
    old_row jsonb,
    new_row jsonb,
    CONSTRAINT audit_events_op_check CHECK ((op = ANY (ARRAY['I'::"char", 'U'::"char", 'D'::"char", 'T'::"char"])))
);
CREATE TABLE warden.audit_events__p202702 (
    event_id bigint NOT NULL,
    statement_id bigint NOT NULL,
    txid xid8 NOT NULL,
    context_seq smallint NOT NULL,
    table_id integer NOT NULL,
    op "char" NOT NULL,
    at timestamp with time zone NOT NULL,
    row_key jsonb,
    old_key jsonb,
    old_row jsonb,
    new_row jsonb,
    CONSTRAINT audit_events_op_check CHECK ((op = ANY (ARRAY['I'::"char", 'U'::"char", 'D'::"char", 'T'::"char"])))
);
CREATE TABLE warden.audit_events__p202703 (
    event_id bigint NOT NULL,
    statement_id bigint NOT NULL,
    txid xid8 NOT NULL,
    context_seq smallint NOT NULL,
    table_id integer NOT NULL,
    op "char" NOT NULL,
    at timestamp with time zone NOT NULL,
    row_key jsonb,
    old_key jsonb,
    old_row jsonb,
    new_row jsonb,
    CONSTRAINT audit_events_op_check CHECK ((op = ANY (ARRAY['I'::"char", 'U'::"char", 'D'::"char", 'T'::"char"])))
);
CREATE TABLE warden.audit_events_archive__y2026 (
    event_id bigint NOT NULL,
    statement_id bigint NOT NULL,
    txid xid8 NOT NULL,
    context_seq smallint NOT NULL,
    table_id integer NOT NULL,
    op "char" NOT NULL,
    at timestamp with time zone NOT NULL,
    row_key jsonb,
    old_key jsonb,
    old_row jsonb,
    new_row jsonb,
    CONSTRAINT audit_events_op_check CHECK ((op = ANY (ARRAY['I'::"char", 'U'::"char", 'D'::"char", 'T'::"char"])))
);
ALTER TABLE ONLY warden.audit_events_archive__y2026 ALTER COLUMN row_key SET COMPRESSION lz4;
ALTER TABLE ONLY warden.audit_events_archive__y2026 ALTER COLUMN old_key SET COMPRESSION lz4;
ALTER TABLE ONLY warden.audit_events_archive__y2026 ALTER COLUMN old_row SET COMPRESSION lz4;
ALTER TABLE ONLY warden.audit_events_archive__y2026 ALTER COLUMN new_row SET COMPRESSION lz4;
ALTER TABLE warden.audit_events ALTER COLUMN event_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME warden.audit_events_event_id_seq1
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
CREATE SEQUENCE warden.audit_statement_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
CREATE TABLE warden.audit_tables (
    table_id integer NOT NULL,
    relid oid,
    schema_name text NOT NULL,
    table_name text NOT NULL,
    key_columns text[],
    key_types text[],
    key_attnums smallint[],
    hidden_columns text[] DEFAULT '{}'::text[] NOT NULL,
    hidden_attnums smallint[] DEFAULT '{}'::smallint[] NOT NULL,
    registered_at timestamp with time zone DEFAULT now() NOT NULL,
    dropped_at timestamp with time zone,
    retention interval,
    archive_after interval,
    capture text DEFAULT 'trigger'::text NOT NULL,
    excluded text[] DEFAULT '{}'::text[] NOT NULL,
    redacted text[] DEFAULT '{}'::text[] NOT NULL,
    skip_unchanged boolean DEFAULT true NOT NULL,
    CONSTRAINT audit_tables_capture_check CHECK ((capture = ANY (ARRAY['trigger'::text, 'wal'::text])))
);
CREATE TABLE warden.audit_wal (
    slot_name text NOT NULL,
    ingested_lsn pg_lsn NOT NULL,
    horizon xid8 DEFAULT '0'::xid8 NOT NULL,
    ingested_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE TABLE warden.audit_wal_key (
    one boolean DEFAULT true NOT NULL,
    secret bytea NOT NULL,
    CONSTRAINT audit_wal_key_one_check CHECK (one)
);
CREATE SEQUENCE warden.deletion_ids
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
CREATE TABLE warden.maintenance_runs (
    run_id bigint NOT NULL,
    job text NOT NULL,
    table_name text,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone NOT NULL,
    rows bigint NOT NULL,
    detail text DEFAULT ''::text NOT NULL,
    ok boolean NOT NULL,
    pid integer DEFAULT pg_backend_pid() NOT NULL,
    host text
);
ALTER TABLE warden.maintenance_runs ALTER COLUMN run_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME warden.maintenance_runs_run_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
CREATE TABLE warden.migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE TABLE warden.owned_objects (
    object_key text NOT NULL,
    kind text NOT NULL,
    identity jsonb NOT NULL,
    feature text NOT NULL,
    table_name jsonb NOT NULL,
    description text NOT NULL,
    definition_hash text NOT NULL,
    fingerprint text NOT NULL,
    create_sql text NOT NULL,
    drop_sql text NOT NULL,
    destructive boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE TABLE warden.partition_conversions (
    relid oid NOT NULL,
    table_schema text NOT NULL,
    table_name text NOT NULL,
    shadow_name text NOT NULL,
    log_name text NOT NULL,
    key_columns text[] NOT NULL,
    state text NOT NULL,
    last_key jsonb,
    copied bigint DEFAULT 0 NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT partition_conversions_state_check CHECK ((state = ANY (ARRAY['copying'::text, 'catching_up'::text, 'done'::text])))
);
CREATE TABLE warden.partition_detached (
    partition_schema text NOT NULL,
    partition_name text NOT NULL,
    parent_schema text NOT NULL,
    parent_name text NOT NULL,
    mode text NOT NULL,
    detached_at timestamp with time zone DEFAULT now() NOT NULL,
    done_at timestamp with time zone,
    rows bigint,
    CONSTRAINT partition_detached_mode_check CHECK ((mode = ANY (ARRAY['detach'::text, 'drop'::text, 'archive'::text])))
);
CREATE TABLE warden.secrets (
    name text NOT NULL,
    value text NOT NULL
);
ALTER TABLE ONLY public.events ATTACH PARTITION public.events__default DEFAULT;
ALTER TABLE ONLY public.events ATTACH PARTITION public.events__p202612 FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00');
ALTER TABLE ONLY public.events ATTACH PARTITION public.events__p202701 FOR VALUES FROM ('2027-01-01 00:00:00+00') TO ('2027-02-01 00:00:00+00');
ALTER TABLE ONLY warden.audit_events ATTACH PARTITION warden.audit_events__default DEFAULT;
ALTER TABLE ONLY warden.audit_events ATTACH PARTITION warden.audit_events__history FOR VALUES FROM (MINVALUE) TO ('2027-01-01 00:00:00+00');
ALTER TABLE ONLY warden.audit_events ATTACH PARTITION warden.audit_events__p202701 FOR VALUES FROM ('2027-01-01 00:00:00+00') TO ('2027-02-01 00:00:00+00');
ALTER TABLE ONLY warden.audit_events ATTACH PARTITION warden.audit_events__p202702 FOR VALUES FROM ('2027-02-01 00:00:00+00') TO ('2027-03-01 00:00:00+00');
ALTER TABLE ONLY warden.audit_events ATTACH PARTITION warden.audit_events__p202703 FOR VALUES FROM ('2027-03-01 00:00:00+00') TO ('2027-04-01 00:00:00+00');
ALTER TABLE ONLY warden.audit_events_archive ATTACH PARTITION warden.audit_events_archive__y2026 FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2027-01-01 00:00:00+00');
COPY archive.orders (archived_at, archived_by, archive_reason, id, placed, total) FROM stdin;
2026-12-06 09:07:39.991711+00	pgwarden	archive: placed older than 1 year	1	2020-01-31	10
2026-12-06 09:07:39.991711+00	pgwarden	archive: placed older than 1 year	2	2020-03-01	20
2026-12-06 09:07:39.991711+00	pgwarden	archive: placed older than 1 year	3	2020-03-31	30
2026-12-06 09:07:39.991711+00	pgwarden	archive: placed older than 1 year	4	2020-04-30	40
2026-12-06 09:07:39.991711+00	pgwarden	archive: placed older than 1 year	5	2020-05-30	50
2026-12-06 09:07:39.991711+00	pgwarden	archive: placed older than 1 year	6	2020-06-29	61
\.
COPY public.accounts (id, full_name, balance, deleted_at, deleted_by, deletion_id) FROM stdin;
1	ann b	15	\N	\N	\N
3	cy	99	\N	\N	\N
2	bob	25	2026-12-06 09:07:39.805102+00	erin	1
\.
COPY public.events__default (id, at, kind) FROM stdin;
\.
COPY public.events__p202612 (id, at, kind) FROM stdin;
1	2026-12-06 09:07:39.689499+00	open
2	2026-12-06 09:07:39.689499+00	reopened
\.
COPY public.events__p202701 (id, at, kind) FROM stdin;
\.
COPY public.notes (id, body) FROM stdin;
1	first, edited
\.
COPY public.orders (id, placed, total) FROM stdin;
\.
COPY warden.audit_columns (table_id, attnum, name, since, txid) FROM stdin;
18555	1	id	-infinity	923
18555	2	name	-infinity	923
18555	3	balance	-infinity	923
18555	4	deleted_at	-infinity	923
18555	5	deleted_by	-infinity	923
18555	6	deletion_id	-infinity	923
18562	1	id	-infinity	923
18562	2	at	-infinity	923
18562	3	kind	-infinity	923
18572	1	id	-infinity	923
18572	2	body	-infinity	923
18567	1	id	-infinity	923
18567	2	placed	-infinity	923
18567	3	total	-infinity	923
18555	2	full_name	2026-12-06 09:07:39.75621+00	927
\.
COPY warden.audit_contexts (txid, context_seq, tx_started_at, actor, tenant, reason, request_id, login_role, acting_role, client_addr, application_name, backend_pid) FROM stdin;
925	1	2026-12-06 09:07:39.689499+00	alice	\N	fixture: alice	\N	postgres	postgres	127.0.0.1	pgwarden	28517
926	1	2026-12-06 09:07:39.733033+00	bob	\N	fixture: bob	\N	postgres	postgres	127.0.0.1	pgwarden	28516
929	1	2026-12-06 09:07:39.768107+00	carol	\N	fixture: carol	\N	postgres	postgres	127.0.0.1	pgwarden	28516
930	1	2026-12-06 09:07:39.792634+00	dave	\N	fixture: dave	\N	postgres	postgres	127.0.0.1	pgwarden	28517
931	1	2026-12-06 09:07:39.805102+00	erin	\N	fixture: erin	\N	postgres	postgres	127.0.0.1	pgwarden	28516
925	16384	2026-12-06 09:07:39.689499+00	alice	\N	fixture: alice	\N	postgres	postgres	127.0.0.1	pgwarden	28517
926	16384	2026-12-06 09:07:39.733033+00	bob	\N	fixture: bob	\N	postgres	postgres	127.0.0.1	pgwarden	28516
929	16384	2026-12-06 09:07:39.768107+00	carol	\N	fixture: carol	\N	postgres	postgres	127.0.0.1	pgwarden	28516
951	1	2026-12-06 09:07:39.991711+00	pgwarden	\N	archive	\N	postgres	postgres	127.0.0.1	pgwarden	28533
\.
COPY warden.audit_events__default (event_id, statement_id, txid, context_seq, table_id, op, at, row_key, old_key, old_row, new_row) FROM stdin;
\.
COPY warden.audit_events__history (event_id, statement_id, txid, context_seq, table_id, op, at, row_key, old_key, old_row, new_row) FROM stdin;
1	1	925	1	18555	I	2026-12-06 09:07:39.69193+00	[1]	\N	\N	{"id": 1, "name": "ann", "balance": 10, "deleted_at": null, "deleted_by": null, "deletion_id": null}
2	1	925	1	18555	I	2026-12-06 09:07:39.69193+00	[2]	\N	\N	{"id": 2, "name": "bob", "balance": 20, "deleted_at": null, "deleted_by": null, "deletion_id": null}
3	1	925	1	18555	I	2026-12-06 09:07:39.69193+00	[3]	\N	\N	{"id": 3, "name": "cy", "balance": 30, "deleted_at": null, "deleted_by": null, "deletion_id": null}
4	3	925	1	18562	I	2026-12-06 09:07:39.695691+00	[1, "2026-12-06T09:07:39.689499+00:00"]	\N	\N	{"at": "2026-12-06T09:07:39.689499+00:00", "id": 1, "kind": "open"}
5	3	925	1	18562	I	2026-12-06 09:07:39.696947+00	[2, "2026-12-06T09:07:39.689499+00:00"]	\N	\N	{"at": "2026-12-06T09:07:39.689499+00:00", "id": 2, "kind": "close"}
6	4	926	1	18555	U	2026-12-06 09:07:39.736354+00	[1]	\N	{"id": 1, "name": "ann", "balance": 10, "deleted_at": null, "deleted_by": null, "deletion_id": null}	{"id": 1, "name": "ann", "balance": 15, "deleted_at": null, "deleted_by": null, "deletion_id": null}
7	4	926	1	18555	U	2026-12-06 09:07:39.736354+00	[2]	\N	{"id": 2, "name": "bob", "balance": 20, "deleted_at": null, "deleted_by": null, "deletion_id": null}	{"id": 2, "name": "bob", "balance": 25, "deleted_at": null, "deleted_by": null, "deletion_id": null}
9	6	929	1	18555	U	2026-12-06 09:07:39.768829+00	[1]	\N	{"id": 1, "balance": 15, "full_name": "ann", "deleted_at": null, "deleted_by": null, "deletion_id": null}	{"id": 1, "balance": 15, "full_name": "ann b", "deleted_at": null, "deleted_by": null, "deletion_id": null}
10	8	929	1	18562	U	2026-12-06 09:07:39.769944+00	[2, "2026-12-06T09:07:39.689499+00:00"]	\N	{"at": "2026-12-06T09:07:39.689499+00:00", "id": 2, "kind": "close"}	{"at": "2026-12-06T09:07:39.689499+00:00", "id": 2, "kind": "reopened"}
11	9	930	1	18555	U	2026-12-06 09:07:39.793368+00	[3]	\N	{"id": 3, "balance": 30, "full_name": "cy", "deleted_at": null, "deleted_by": null, "deletion_id": null}	{"id": 3, "balance": 99, "full_name": "cy", "deleted_at": null, "deleted_by": null, "deletion_id": null}
12	10	931	1	18555	U	2026-12-06 09:07:39.806006+00	[2]	\N	{"id": 2, "balance": 25, "full_name": "bob", "deleted_at": null, "deleted_by": null, "deletion_id": null}	{"id": 2, "balance": 25, "full_name": "bob", "deleted_at": "2026-12-06T09:07:39.805102+00:00", "deleted_by": "erin", "deletion_id": 1}
13	12	925	16384	18572	I	2026-12-06 09:07:39.697724+00	[1]	\N	\N	{"id": 1, "body": "first"}
14	13	925	16384	18572	I	2026-12-06 09:07:39.697724+00	[2]	\N	\N	{"id": 2, "body": "second"}
15	14	926	16384	18572	U	2026-12-06 09:07:39.741679+00	[1]	\N	{"id": 1, "body": "first"}	{"id": 1, "body": "first, edited"}
16	15	929	16384	18572	D	2026-12-06 09:07:39.771816+00	[2]	\N	{"id": 2, "body": "second"}	\N
17	16	951	1	18567	D	2026-12-06 09:07:39.996891+00	[1]	\N	{"id": 1, "total": 10, "placed": "2020-01-31"}	\N
18	16	951	1	18567	D	2026-12-06 09:07:39.996891+00	[2]	\N	{"id": 2, "total": 20, "placed": "2020-03-01"}	\N
19	16	951	1	18567	D	2026-12-06 09:07:39.996891+00	[3]	\N	{"id": 3, "total": 30, "placed": "2020-03-31"}	\N
20	16	951	1	18567	D	2026-12-06 09:07:39.996891+00	[4]	\N	{"id": 4, "total": 40, "placed": "2020-04-30"}	\N
21	16	951	1	18567	D	2026-12-06 09:07:39.996891+00	[5]	\N	{"id": 5, "total": 50, "placed": "2020-05-30"}	\N
22	16	951	1	18567	D	2026-12-06 09:07:39.996891+00	[6]	\N	{"id": 6, "total": 61, "placed": "2020-06-29"}	\N
\.
COPY warden.audit_events__p202701 (event_id, statement_id, txid, context_seq, table_id, op, at, row_key, old_key, old_row, new_row) FROM stdin;
\.
COPY warden.audit_events__p202702 (event_id, statement_id, txid, context_seq, table_id, op, at, row_key, old_key, old_row, new_row) FROM stdin;
\.
COPY warden.audit_events__p202703 (event_id, statement_id, txid, context_seq, table_id, op, at, row_key, old_key, old_row, new_row) FROM stdin;
\.
COPY warden.audit_events_archive__y2026 (event_id, statement_id, txid, context_seq, table_id, op, at, row_key, old_key, old_row, new_row) FROM stdin;
8	5	926	1	18567	U	2026-09-07 09:07:39.740438+00	[6]	\N	{"id": 6, "total": 60, "placed": "2020-06-29"}	{"id": 6, "total": 61, "placed": "2020-06-29"}
\.
COPY warden.audit_tables (table_id, relid, schema_name, table_name, key_columns, key_types, key_attnums, hidden_columns, hidden_attnums, registered_at, dropped_at, retention, archive_after, capture, excluded, redacted, skip_unchanged) FROM stdin;
18555	18555	public	accounts	{id}	{integer}	{1}	{}	{}	2026-12-06 09:07:39.532074+00	\N	\N	\N	trigger	{}	{}	t
18562	18562	public	events	{id,at}	{integer,"timestamp with time zone"}	{1,2}	{}	{}	2026-12-06 09:07:39.532074+00	\N	\N	\N	trigger	{}	{}	t
18572	18572	public	notes	{id}	{integer}	{1}	{}	{}	2026-12-06 09:07:39.532074+00	\N	\N	\N	wal	{}	{}	t
18567	18567	public	orders	{id}	{integer}	{1}	{}	{}	2026-12-06 09:07:39.532074+00	\N	\N	30 days	trigger	{}	{}	t
\.
COPY warden.audit_wal (slot_name, ingested_lsn, horizon, ingested_at) FROM stdin;
pgwarden_audit_251438da7a5400d7	0/37CAD30	954	2026-12-06 09:07:39.834196+00
\.
COPY warden.audit_wal_key (one, secret) FROM stdin;
t	\\x24534055a76447bcbcca1ad4c98fc431ee91e95fff5c480e93770e71ab6b4ed5
\.
COPY warden.maintenance_runs (run_id, job, table_name, started_at, finished_at, rows, detail, ok, pid, host) FROM stdin;
\.
COPY warden.migrations (version, name, applied_at) FROM stdin;
1	ledger	2026-12-06 09:07:39.532074+00
2	audit_store	2026-12-06 09:07:39.532074+00
3	audit_reads	2026-12-06 09:07:39.532074+00
4	audit_capture_helpers	2026-12-06 09:07:39.532074+00
5	audit_revert_feed	2026-12-06 09:07:39.532074+00
6	versions	2026-12-06 09:07:39.532074+00
7	audit_retention	2026-12-06 09:07:39.532074+00
8	soft_delete	2026-12-06 09:07:39.532074+00
12	partitions_and_worker	2026-12-06 09:07:39.532074+00
13	audit_store_partitioned	2026-12-06 09:07:39.532074+00
14	audit_archive	2026-12-06 09:07:39.532074+00
15	audit_renames	2026-12-06 09:07:39.532074+00
16	audit_wal_capture	2026-12-06 09:07:39.532074+00
17	audit_as_of_faster	2026-12-06 09:07:39.532074+00
18	audit_wal_signed	2026-12-06 09:07:39.532074+00
19	audit_as_of_lighter	2026-12-06 09:07:39.532074+00
20	audit_feed_ignores_autovacuum	2026-12-06 09:07:39.532074+00
21	audit_history_planned_once	2026-12-06 09:07:39.532074+00
22	audit_as_of_memory	2026-12-06 09:07:39.532074+00
23	audit_adopt_partitions	2026-12-06 09:07:39.532074+00
24	audit_adopt_partitions	2026-12-06 09:07:39.532074+00
\.
COPY warden.owned_objects (object_key, kind, identity, feature, table_name, description, definition_hash, fingerprint, create_sql, drop_sql, destructive, created_at, updated_at) FROM stdin;
schema archive.archive	schema	{"kind": "schema", "name": "archive", "schema": "archive"}	archive	{"name": "orders", "schema": "public"}	schema archive for archive tables	a27c2f3bc310e480	schema	CREATE SCHEMA "archive"	DROP SCHEMA IF EXISTS "archive" RESTRICT	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
data_table archive.orders	data_table	{"kind": "data_table", "name": "orders", "schema": "archive"}	archive	{"name": "orders", "schema": "public"}	archive table archive.orders for public.orders	8a3130df586ca32d	r	CREATE TABLE "archive"."orders" (archived_at timestamptz NOT NULL DEFAULT now(), archived_by text, archive_reason text)	DROP TABLE IF EXISTS "archive"."orders"	t	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
partition public.events/events__default	partition	{"kind": "partition", "name": "events__default", "schema": "public", "relation": {"name": "events", "schema": "public"}}	partition	{"name": "events", "schema": "public"}	default partition of public.events	d5e4232482dcbd58	default of public.events	CREATE TABLE "public"."events__default" PARTITION OF "public"."events" DEFAULT	DROP TABLE IF EXISTS "public"."events__default"	t	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
column archive.orders/id	column	{"kind": "column", "name": "id", "schema": "archive", "relation": {"name": "orders", "schema": "archive"}}	archive	{"name": "orders", "schema": "public"}	column id of archive archive.orders	4172182178adf881	integer not null=true default=	ALTER TABLE "archive"."orders" ADD COLUMN "id" integer NOT NULL	ALTER TABLE "archive"."orders" DROP COLUMN IF EXISTS "id"	t	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
column archive.orders/placed	column	{"kind": "column", "name": "placed", "schema": "archive", "relation": {"name": "orders", "schema": "archive"}}	archive	{"name": "orders", "schema": "public"}	column placed of archive archive.orders	3ce733c0f9af5e0b	date not null=false default=	ALTER TABLE "archive"."orders" ADD COLUMN "placed" date	ALTER TABLE "archive"."orders" DROP COLUMN IF EXISTS "placed"	t	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
column archive.orders/total	column	{"kind": "column", "name": "total", "schema": "archive", "relation": {"name": "orders", "schema": "archive"}}	archive	{"name": "orders", "schema": "public"}	column total of archive archive.orders	c052d1b62954fa14	integer not null=false default=	ALTER TABLE "archive"."orders" ADD COLUMN "total" integer	ALTER TABLE "archive"."orders" DROP COLUMN IF EXISTS "total"	t	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
column public.accounts/deleted_at	column	{"kind": "column", "name": "deleted_at", "schema": "public", "relation": {"name": "accounts", "schema": "public"}}	soft_delete	{"name": "accounts", "schema": "public"}	column deleted_at on public.accounts	2fcc34c85735cee9	timestamp with time zone not null=false default=	ALTER TABLE "public"."accounts" ADD COLUMN "deleted_at" timestamptz	ALTER TABLE "public"."accounts" DROP COLUMN IF EXISTS "deleted_at"	t	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
column public.accounts/deleted_by	column	{"kind": "column", "name": "deleted_by", "schema": "public", "relation": {"name": "accounts", "schema": "public"}}	soft_delete	{"name": "accounts", "schema": "public"}	column deleted_by on public.accounts	af03656d4d32ce74	text not null=false default=	ALTER TABLE "public"."accounts" ADD COLUMN "deleted_by" text	ALTER TABLE "public"."accounts" DROP COLUMN IF EXISTS "deleted_by"	t	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
column public.accounts/deletion_id	column	{"kind": "column", "name": "deletion_id", "schema": "public", "relation": {"name": "accounts", "schema": "public"}}	soft_delete	{"name": "accounts", "schema": "public"}	column deletion_id on public.accounts	df151d916ee4e4fc	bigint not null=false default=	ALTER TABLE "public"."accounts" ADD COLUMN "deletion_id" bigint	ALTER TABLE "public"."accounts" DROP COLUMN IF EXISTS "deletion_id"	t	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
registration public.accounts/audit_tables	registration	{"kind": "registration", "name": "audit_tables", "schema": "warden", "relation": {"name": "accounts", "schema": "public"}}	audit	{"name": "accounts", "schema": "public"}	audit registration of public.accounts (rows identified by the primary key (id))	3b3117a665289512	d11cc98d2b1a003f702eb2159d73fd2b	INSERT INTO warden.audit_tables (table_id, relid, schema_name, table_name, key_columns, key_types, key_attnums, hidden_columns, hidden_attnums, retention, archive_after, capture, excluded, redacted, skip_unchanged) VALUES (18555, '"public"."accounts"'::regclass, 'public', 'accounts', '{id}'::text[], '{integer}'::text[], (SELECT array_agg(a.attnum ORDER BY u.o) FROM unnest('{id}'::text[]) WITH ORDINALITY u(c, o) JOIN pg_attribute a ON a.attrelid = '"public"."accounts"'::regclass AND a.attname = u.c), '{}'::text[], (SELECT coalesce(array_agg(a.attnum), '{}') FROM pg_attribute a WHERE a.attrelid = '"public"."accounts"'::regclass AND a.attname = ANY('{}'::text[])), NULL::interval, NULL::interval, 'trigger', '{}'::text[], '{}'::text[], true) ON CONFLICT (relid) DO UPDATE SET schema_name = excluded.schema_name, table_name = excluded.table_name, key_columns = excluded.key_columns, key_types = excluded.key_types, key_attnums = excluded.key_attnums, hidden_columns = excluded.hidden_columns, hidden_attnums = excluded.hidden_attnums, retention = excluded.retention, archive_after = excluded.archive_after, capture = excluded.capture, excluded = excluded.excluded, redacted = excluded.redacted, skip_unchanged = excluded.skip_unchanged, dropped_at = NULL; SELECT warden.audit_record_columns(ARRAY['"public"."accounts"'::regclass::oid], '-infinity')	UPDATE warden.audit_tables SET dropped_at = now(), relid = CASE WHEN EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = relid) THEN relid END WHERE schema_name = 'public' AND table_name = 'accounts' AND dropped_at IS NULL	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
registration public.events/audit_tables	registration	{"kind": "registration", "name": "audit_tables", "schema": "warden", "relation": {"name": "events", "schema": "public"}}	audit	{"name": "events", "schema": "public"}	audit registration of public.events (rows identified by the primary key (id, at))	aa650f5f2dd39d66	3745d8b119e84c57fe5d807a01265e8c	INSERT INTO warden.audit_tables (table_id, relid, schema_name, table_name, key_columns, key_types, key_attnums, hidden_columns, hidden_attnums, retention, archive_after, capture, excluded, redacted, skip_unchanged) VALUES (18562, '"public"."events"'::regclass, 'public', 'events', '{id,at}'::text[], '{integer,"timestamp with time zone"}'::text[], (SELECT array_agg(a.attnum ORDER BY u.o) FROM unnest('{id,at}'::text[]) WITH ORDINALITY u(c, o) JOIN pg_attribute a ON a.attrelid = '"public"."events"'::regclass AND a.attname = u.c), '{}'::text[], (SELECT coalesce(array_agg(a.attnum), '{}') FROM pg_attribute a WHERE a.attrelid = '"public"."events"'::regclass AND a.attname = ANY('{}'::text[])), NULL::interval, NULL::interval, 'trigger', '{}'::text[], '{}'::text[], true) ON CONFLICT (relid) DO UPDATE SET schema_name = excluded.schema_name, table_name = excluded.table_name, key_columns = excluded.key_columns, key_types = excluded.key_types, key_attnums = excluded.key_attnums, hidden_columns = excluded.hidden_columns, hidden_attnums = excluded.hidden_attnums, retention = excluded.retention, archive_after = excluded.archive_after, capture = excluded.capture, excluded = excluded.excluded, redacted = excluded.redacted, skip_unchanged = excluded.skip_unchanged, dropped_at = NULL; SELECT warden.audit_record_columns(ARRAY['"public"."events"'::regclass::oid], '-infinity')	UPDATE warden.audit_tables SET dropped_at = now(), relid = CASE WHEN EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = relid) THEN relid END WHERE schema_name = 'public' AND table_name = 'events' AND dropped_at IS NULL	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
registration public.notes/audit_tables	registration	{"kind": "registration", "name": "audit_tables", "schema": "warden", "relation": {"name": "notes", "schema": "public"}}	audit	{"name": "notes", "schema": "public"}	audit registration of public.notes (rows identified by the primary key (id); captured from the WAL (context trigger in PL/pgSQL; events appear once ingested))	2c56440dd3bbc55b	1dc8c359affb853d46f2c87ec788d7b2	INSERT INTO warden.audit_tables (table_id, relid, schema_name, table_name, key_columns, key_types, key_attnums, hidden_columns, hidden_attnums, retention, archive_after, capture, excluded, redacted, skip_unchanged) VALUES (18572, '"public"."notes"'::regclass, 'public', 'notes', '{id}'::text[], '{integer}'::text[], (SELECT array_agg(a.attnum ORDER BY u.o) FROM unnest('{id}'::text[]) WITH ORDINALITY u(c, o) JOIN pg_attribute a ON a.attrelid = '"public"."notes"'::regclass AND a.attname = u.c), '{}'::text[], (SELECT coalesce(array_agg(a.attnum), '{}') FROM pg_attribute a WHERE a.attrelid = '"public"."notes"'::regclass AND a.attname = ANY('{}'::text[])), NULL::interval, NULL::interval, 'wal', '{}'::text[], '{}'::text[], true) ON CONFLICT (relid) DO UPDATE SET schema_name = excluded.schema_name, table_name = excluded.table_name, key_columns = excluded.key_columns, key_types = excluded.key_types, key_attnums = excluded.key_attnums, hidden_columns = excluded.hidden_columns, hidden_attnums = excluded.hidden_attnums, retention = excluded.retention, archive_after = excluded.archive_after, capture = excluded.capture, excluded = excluded.excluded, redacted = excluded.redacted, skip_unchanged = excluded.skip_unchanged, dropped_at = NULL; SELECT warden.audit_record_columns(ARRAY['"public"."notes"'::regclass::oid], '-infinity')	UPDATE warden.audit_tables SET dropped_at = now(), relid = CASE WHEN EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = relid) THEN relid END WHERE schema_name = 'public' AND table_name = 'notes' AND dropped_at IS NULL	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
registration public.orders/audit_tables	registration	{"kind": "registration", "name": "audit_tables", "schema": "warden", "relation": {"name": "orders", "schema": "public"}}	audit	{"name": "orders", "schema": "public"}	audit registration of public.orders (rows identified by the primary key (id); archived after 30 days)	2d388c373614206b	ac48880f6284c5fd184c39604e9ba8db	INSERT INTO warden.audit_tables (table_id, relid, schema_name, table_name, key_columns, key_types, key_attnums, hidden_columns, hidden_attnums, retention, archive_after, capture, excluded, redacted, skip_unchanged) VALUES (18567, '"public"."orders"'::regclass, 'public', 'orders', '{id}'::text[], '{integer}'::text[], (SELECT array_agg(a.attnum ORDER BY u.o) FROM unnest('{id}'::text[]) WITH ORDINALITY u(c, o) JOIN pg_attribute a ON a.attrelid = '"public"."orders"'::regclass AND a.attname = u.c), '{}'::text[], (SELECT coalesce(array_agg(a.attnum), '{}') FROM pg_attribute a WHERE a.attrelid = '"public"."orders"'::regclass AND a.attname = ANY('{}'::text[])), NULL::interval, '30 days'::interval, 'trigger', '{}'::text[], '{}'::text[], true) ON CONFLICT (relid) DO UPDATE SET schema_name = excluded.schema_name, table_name = excluded.table_name, key_columns = excluded.key_columns, key_types = excluded.key_types, key_attnums = excluded.key_attnums, hidden_columns = excluded.hidden_columns, hidden_attnums = excluded.hidden_attnums, retention = excluded.retention, archive_after = excluded.archive_after, capture = excluded.capture, excluded = excluded.excluded, redacted = excluded.redacted, skip_unchanged = excluded.skip_unchanged, dropped_at = NULL; SELECT warden.audit_record_columns(ARRAY['"public"."orders"'::regclass::oid], '-infinity')	UPDATE warden.audit_tables SET dropped_at = now(), relid = CASE WHEN EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = relid) THEN relid END WHERE schema_name = 'public' AND table_name = 'orders' AND dropped_at IS NULL	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
function warden.public_accounts__audit	function	{"kind": "function", "name": "public_accounts__audit", "schema": "warden"}	audit	{"name": "accounts", "schema": "public"}	function capturing changes of public.accounts	69f3eafc4d7e3a4c	5161ad978beae0e9e2c1b73ae4d038b0	CREATE OR REPLACE FUNCTION "warden"."public_accounts__audit"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET enable_nestloop = off SET jit = off AS '-- Captures every change of public.accounts into warden.audit_events, one INSERT per statement.\n-- Generated by pgwarden (feature: audit). Statement-level: the rows come from the\n-- statement''s transition tables, so a bulk UPDATE costs one query, not one call per row.\ndeclare\n    tid int;\n    txv xid8;\n    seq int;\n    sid bigint;\n    sig text;\n    flag text;\n    fresh boolean := false;\n    excluded text[];\n    redacted text[];\n    at_ timestamptz := clock_timestamp();\n    written bigint := 0;\nbegin\n    tid := 18555;\n    if tg_op = ''TRUNCATE'' then\n        txv := pg_current_xact_id();\n    else\n        -- No transaction id yet: this statement changed no row, nor did any before it.\n        txv := pg_current_xact_id_if_assigned();\n        if txv is null then\n            return null;\n        end if;\n    end if;\n    -- The transaction''s context is recorded once per transaction (again, with the next\n    -- sequence number, if the settings change mid-transaction). Simple expressions only.\n    sig := concat_ws(chr(31), current_setting(''pgwarden.actor'', true),\n                     current_setting(''pgwarden.tenant'', true),\n                     current_setting(''pgwarden.reason'', true),\n                     current_setting(''pgwarden.request_id'', true));\n    flag := current_setting(''pgwarden._context'', true);\n    if flag is not null and split_part(flag, '':'', 1) = txv::text then\n        seq := split_part(flag, '':'', 2)::int;\n        if flag <> txv::text || '':'' || seq || '':'' || sig then\n            seq := seq + 1;\n            fresh := true;\n        end if;\n    else\n        seq := 1;\n        fresh := true;\n    end if;\n\n    sid := nextval(''warden.audit_statement_seq'');\n    if tg_op = ''INSERT'' then\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,\n                                         new_row)\n        select sid, txv, seq, tid, ''I'', at_, case when "nj" ?& ''{id}'' then jsonb_build_array("nj" -> ''id'') else warden.audit_live_key(tg_relid, "nj") end, s.nj\n          from (select to_jsonb("n".*) as nj from new_rows n) s;\n        get diagnostics written = row_count;\n    elsif tg_op = ''UPDATE'' then\n        -- Old and new transition tables hold the rows in the same order, which pairs them\n        -- even when the statement changed keys (shifts, swaps, cross-partition moves). The\n        -- function runs with enable_nestloop off, so that a plan cached from a one-row\n        -- statement never pairs a big one with a nested loop (quadratic in rows).\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key, old_key, old_row, new_row) select sid, txv, seq, tid, ''U'', at_, k.nk, nullif(k.ok, k.nk), a.oj, b.nj from (select row_number() over () as i, to_jsonb("o".*) as oj from old_rows o) a join (select row_number() over () as i, to_jsonb("n".*) as nj from new_rows n) b on a.i = b.i cross join lateral (select case when "oj" ?& ''{id}'' then jsonb_build_array("oj" -> ''id'') else warden.audit_live_key(tg_relid, "oj") end as ok, case when "nj" ?& ''{id}'' then jsonb_build_array("nj" -> ''id'') else warden.audit_live_key(tg_relid, "nj") end as nk) k where a.oj is distinct from b.nj;\n        get diagnostics written = row_count;\n    elsif tg_op = ''DELETE'' then\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,\n                                         old_row)\n        select sid, txv, seq, tid, ''D'', at_, case when "oj" ?& ''{id}'' then jsonb_build_array("oj" -> ''id'') else warden.audit_live_key(tg_relid, "oj") end, s.oj\n          from (select to_jsonb("o".*) as oj from old_rows o) s;\n        get diagnostics written = row_count;\n    elsif tg_op = ''TRUNCATE'' and tg_relid = (select t.relid from warden.audit_tables t\n                                              where t.table_id = tid) then\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at)\n        values (sid, txv, seq, tid, ''T'', at_);\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id,\n                                         op, at, row_key, old_row)\n        select sid, txv, seq, tid, ''D'', at_, case when "oj" ?& ''{id}'' then jsonb_build_array("oj" -> ''id'') else warden.audit_live_key(tg_relid, "oj") end, s.oj\n          from (select to_jsonb("o".*) as oj from "public"."accounts" o) s;\n        written := 1;\n    elsif tg_op = ''TRUNCATE'' then\n        -- The partitions'' own TRUNCATE triggers fire right after the table''s, in the same\n        -- statement: its rows are recorded already. Told by the store (only its owner writes\n        -- it), not by a setting a session could forge to hide a partition''s rows: when this\n        -- table''s latest statement in the transaction truncated it whole, every partition\n        -- is empty since, and there is nothing to record.\n        if exists (select 1 from warden.audit_events e\n                    where e.txid = txv and e.table_id = tid and e.op = ''T''\n                      and e.statement_id = (select max(l.statement_id)\n                                              from warden.audit_events l\n                                             where l.txid = txv and l.table_id = tid)) then\n            return null;\n        end if;\n        -- One partition truncated on its own: its rows go, one event each (a table-wide\n        -- truncate mark would wipe the other partitions from time travel).\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id,\n                                         op, at, row_key, old_row)\n        select sid, txv, seq, tid, ''D'', at_, case when "oj" ?& ''{id}'' then jsonb_build_array("oj" -> ''id'') else warden.audit_live_key(tg_relid, "oj") end, s.oj\n          from (select to_jsonb("o".*) as oj from "public"."accounts" o where o.tableoid in (select p.relid from pg_catalog.pg_partition_tree(tg_relid) p where p.isleaf)) s;\n        get diagnostics written = row_count;\n    end if;\n    -- Written whenever events were, not only when the flag says it is missing: the flag is a\n    -- setting any session can change, and must not be able to leave events without context.\n    if written > 0 then\n        insert into warden.audit_contexts (txid, context_seq, tx_started_at, actor, tenant, reason,\n                request_id, login_role, acting_role, client_addr, application_name, backend_pid)\n        values (txv, seq, now(),\n                nullif(current_setting(''pgwarden.actor'', true), ''''),\n                nullif(current_setting(''pgwarden.tenant'', true), ''''),\n                nullif(current_setting(''pgwarden.reason'', true), ''''),\n                nullif(current_setting(''pgwarden.request_id'', true), ''''),\n                session_user,\n                -- SECURITY DEFINER hides the caller''s current_user; SET ROLE shows here.\n                coalesce(nullif(current_setting(''role''), ''none''), session_user),\n                inet_client_addr(), current_setting(''application_name''), pg_backend_pid())\n        on conflict do nothing;\n        if fresh then\n            -- Transaction-local, like the settings it summarises: numbers the next context.\n            flag := set_config(''pgwarden._context'', txv::text || '':'' || seq || '':'' || sig, true);\n            -- Wakes `pgwarden changes --follow` readers; delivered once, at commit.\n            flag := pg_notify(''pgwarden_changes'', '''')::text;\n        end if;\n    end if;\n\n    return null;\nend\n'	DROP FUNCTION IF EXISTS "warden"."public_accounts__audit"()	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
function warden.public_accounts__live_delete	function	{"kind": "function", "name": "public_accounts__live_delete", "schema": "warden"}	soft_delete	{"name": "accounts", "schema": "public"}	function deleting through public.accounts__live	1d5b7d3696de96d5	da880e4f3cba8da58ffc9df253156721	CREATE OR REPLACE FUNCTION "warden"."public_accounts__live_delete"() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS 'begin\n    delete from "public"."accounts" t where "t"."id" = "old"."id";\n    return OLD;\nend'	DROP FUNCTION IF EXISTS "warden"."public_accounts__live_delete"()	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
function warden.public_accounts__soft_delete	function	{"kind": "function", "name": "public_accounts__soft_delete", "schema": "warden"}	soft_delete	{"name": "accounts", "schema": "public"}	function turning a DELETE on public.accounts into a soft delete	38a482575f875623	0c7f0a2b1692797c0f29dd0e959186a1	CREATE OR REPLACE FUNCTION "warden"."public_accounts__soft_delete"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS '-- BEFORE DELETE on "public"."accounts": a DELETE marks the row instead. Generated by pgwarden (soft_delete).\nbegin\n    if warden.hard_delete_allowed() then\n        return OLD;  -- the privileged path: warden.allow_hard_delete() was called\n    end if;\n    if OLD."deleted_at" is null then\n        -- Consistent as written (who, which deletion): the state trigger has nothing to do,\n        -- and the DELETE already holds the row FOR UPDATE. The cascade trigger follows keys.\n        update "public"."accounts" t set "deleted_at" = now(), "deleted_by" = coalesce(nullif(current_setting(''pgwarden.actor'', true), ''''), session_user), "deletion_id" = nextval(''warden.deletion_ids'')\n         where "t"."id" = "old"."id";\n    end if;\n    return null;  -- the row stays\nend\n'	DROP FUNCTION IF EXISTS "warden"."public_accounts__soft_delete"()	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
function warden.public_accounts__soft_delete_state	function	{"kind": "function", "name": "public_accounts__soft_delete_state", "schema": "warden"}	soft_delete	{"name": "accounts", "schema": "public"}	function keeping who/which deletion of public.accounts rows	57f14395681103b1	7c7a8d8887bbc76322f8e456922619b0	CREATE OR REPLACE FUNCTION "warden"."public_accounts__soft_delete_state"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS '-- BEFORE UPDATE on "public"."accounts": keeps who deleted a row, and which deletion, consistent with\n-- its deleted/live state, when an UPDATE left them inconsistent (its WHEN clause skips\n-- the rows pgwarden''s own triggers write). Generated by pgwarden (soft_delete).\nbegin\n    if NEW."deleted_at" is not null and OLD."deleted_at" is null then\n        -- Taken before any cascade reads the children: a transaction attaching a child to\n        -- this row (it holds a KEY SHARE lock on it) finishes first, and is then cascaded.\n        perform 1 from "public"."accounts" t where "t"."id" = "old"."id" for update;\n        NEW."deleted_by" := coalesce(NEW."deleted_by", coalesce(nullif(current_setting(''pgwarden.actor'', true), ''''), session_user));\n        if NEW."deletion_id" is null then\n            NEW."deletion_id" := nextval(''warden.deletion_ids'');\n        end if;\n    elsif NEW."deleted_at" is null then\n        NEW."deleted_by" := null;\n        NEW."deletion_id" := null;\n    else\n        NEW."deleted_by" := OLD."deleted_by";\n        NEW."deletion_id" := OLD."deletion_id";  -- a deleted row keeps the deletion that removed it\n    end if;\n    return NEW;\nend\n'	DROP FUNCTION IF EXISTS "warden"."public_accounts__soft_delete_state"()	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
function warden.public_accounts__soft_delete_truncate	function	{"kind": "function", "name": "public_accounts__soft_delete_truncate", "schema": "warden"}	soft_delete	{"name": "accounts", "schema": "public"}	function refusing TRUNCATE of public.accounts without the hard-delete privilege	b38b7bc8e59a33bc	a752f1e74345483cd74edccf8ffc5f3a	CREATE OR REPLACE FUNCTION "warden"."public_accounts__soft_delete_truncate"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS '-- BEFORE TRUNCATE on "public"."accounts": removing every row is a hard delete. Generated by pgwarden.\nbegin\n    if not warden.hard_delete_allowed() then\n        raise exception using errcode = ''insufficient_privilege'',\n            message = ''TRUNCATE of public.accounts would hard-delete every row (soft_delete is on)'',\n            hint = ''call warden.allow_hard_delete() in the transaction (a privileged function)'';\n    end if;\n    return null;\nend\n'	DROP FUNCTION IF EXISTS "warden"."public_accounts__soft_delete_truncate"()	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
function warden.public_events__audit	function	{"kind": "function", "name": "public_events__audit", "schema": "warden"}	audit	{"name": "events", "schema": "public"}	function capturing changes of public.events	2d2f737b30a70a13	53a448d68dd6c35c172012026de4d913	CREATE OR REPLACE FUNCTION "warden"."public_events__audit"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET enable_nestloop = off SET jit = off AS '-- Captures every change of public.events into warden.audit_events, one INSERT per statement.\n-- Generated by pgwarden (feature: audit). Statement-level: the rows come from the\n-- statement''s transition tables, so a bulk UPDATE costs one query, not one call per row.\ndeclare\n    tid int;\n    txv xid8;\n    seq int;\n    sid bigint;\n    sig text;\n    flag text;\n    fresh boolean := false;\n    excluded text[];\n    redacted text[];\n    at_ timestamptz := clock_timestamp();\n    written bigint := 0;\nbegin\n    tid := 18562;\n    if tg_op = ''TRUNCATE'' then\n        txv := pg_current_xact_id();\n    else\n        -- No transaction id yet: this statement changed no row, nor did any before it.\n        txv := pg_current_xact_id_if_assigned();\n        if txv is null then\n            return null;\n        end if;\n    end if;\n    -- The transaction''s context is recorded once per transaction (again, with the next\n    -- sequence number, if the settings change mid-transaction). Simple expressions only.\n    sig := concat_ws(chr(31), current_setting(''pgwarden.actor'', true),\n                     current_setting(''pgwarden.tenant'', true),\n                     current_setting(''pgwarden.reason'', true),\n                     current_setting(''pgwarden.request_id'', true));\n    flag := current_setting(''pgwarden._context'', true);\n    if flag is not null and split_part(flag, '':'', 1) = txv::text then\n        seq := split_part(flag, '':'', 2)::int;\n        if flag <> txv::text || '':'' || seq || '':'' || sig then\n            seq := seq + 1;\n            fresh := true;\n        end if;\n    else\n        seq := 1;\n        fresh := true;\n    end if;\n\n    sid := nextval(''warden.audit_statement_seq'');\n    if tg_op = ''INSERT'' then\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,\n                                         new_row)\n        select sid, txv, seq, tid, ''I'', at_, case when "nj" ?& ''{id,at}'' then jsonb_build_array("nj" -> ''id'', "nj" -> ''at'') else warden.audit_live_key(tg_relid, "nj") end, s.nj\n          from (select to_jsonb("n".*) as nj from new_rows n) s;\n        get diagnostics written = row_count;\n    elsif tg_op = ''UPDATE'' then\n        -- Old and new transition tables hold the rows in the same order, which pairs them\n        -- even when the statement changed keys (shifts, swaps, cross-partition moves). The\n        -- function runs with enable_nestloop off, so that a plan cached from a one-row\n        -- statement never pairs a big one with a nested loop (quadratic in rows).\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key, old_key, old_row, new_row) select sid, txv, seq, tid, ''U'', at_, k.nk, nullif(k.ok, k.nk), a.oj, b.nj from (select row_number() over () as i, to_jsonb("o".*) as oj from old_rows o) a join (select row_number() over () as i, to_jsonb("n".*) as nj from new_rows n) b on a.i = b.i cross join lateral (select case when "oj" ?& ''{id,at}'' then jsonb_build_array("oj" -> ''id'', "oj" -> ''at'') else warden.audit_live_key(tg_relid, "oj") end as ok, case when "nj" ?& ''{id,at}'' then jsonb_build_array("nj" -> ''id'', "nj" -> ''at'') else warden.audit_live_key(tg_relid, "nj") end as nk) k where a.oj is distinct from b.nj;\n        get diagnostics written = row_count;\n    elsif tg_op = ''DELETE'' then\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,\n                                         old_row)\n        select sid, txv, seq, tid, ''D'', at_, case when "oj" ?& ''{id,at}'' then jsonb_build_array("oj" -> ''id'', "oj" -> ''at'') else warden.audit_live_key(tg_relid, "oj") end, s.oj\n          from (select to_jsonb("o".*) as oj from old_rows o) s;\n        get diagnostics written = row_count;\n    elsif tg_op = ''TRUNCATE'' and tg_relid = (select t.relid from warden.audit_tables t\n                                              where t.table_id = tid) then\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at)\n        values (sid, txv, seq, tid, ''T'', at_);\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id,\n                                         op, at, row_key, old_row)\n        select sid, txv, seq, tid, ''D'', at_, case when "oj" ?& ''{id,at}'' then jsonb_build_array("oj" -> ''id'', "oj" -> ''at'') else warden.audit_live_key(tg_relid, "oj") end, s.oj\n          from (select to_jsonb("o".*) as oj from "public"."events" o) s;\n        written := 1;\n    elsif tg_op = ''TRUNCATE'' then\n        -- The partitions'' own TRUNCATE triggers fire right after the table''s, in the same\n        -- statement: its rows are recorded already. Told by the store (only its owner writes\n        -- it), not by a setting a session could forge to hide a partition''s rows: when this\n        -- table''s latest statement in the transaction truncated it whole, every partition\n        -- is empty since, and there is nothing to record.\n        if exists (select 1 from warden.audit_events e\n                    where e.txid = txv and e.table_id = tid and e.op = ''T''\n                      and e.statement_id = (select max(l.statement_id)\n                                              from warden.audit_events l\n                                             where l.txid = txv and l.table_id = tid)) then\n            return null;\n        end if;\n        -- One partition truncated on its own: its rows go, one event each (a table-wide\n        -- truncate mark would wipe the other partitions from time travel).\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id,\n                                         op, at, row_key, old_row)\n        select sid, txv, seq, tid, ''D'', at_, case when "oj" ?& ''{id,at}'' then jsonb_build_array("oj" -> ''id'', "oj" -> ''at'') else warden.audit_live_key(tg_relid, "oj") end, s.oj\n          from (select to_jsonb("o".*) as oj from "public"."events" o where o.tableoid in (select p.relid from pg_catalog.pg_partition_tree(tg_relid) p where p.isleaf)) s;\n        get diagnostics written = row_count;\n    end if;\n    -- Written whenever events were, not only when the flag says it is missing: the flag is a\n    -- setting any session can change, and must not be able to leave events without context.\n    if written > 0 then\n        insert into warden.audit_contexts (txid, context_seq, tx_started_at, actor, tenant, reason,\n                request_id, login_role, acting_role, client_addr, application_name, backend_pid)\n        values (txv, seq, now(),\n                nullif(current_setting(''pgwarden.actor'', true), ''''),\n                nullif(current_setting(''pgwarden.tenant'', true), ''''),\n                nullif(current_setting(''pgwarden.reason'', true), ''''),\n                nullif(current_setting(''pgwarden.request_id'', true), ''''),\n                session_user,\n                -- SECURITY DEFINER hides the caller''s current_user; SET ROLE shows here.\n                coalesce(nullif(current_setting(''role''), ''none''), session_user),\n                inet_client_addr(), current_setting(''application_name''), pg_backend_pid())\n        on conflict do nothing;\n        if fresh then\n            -- Transaction-local, like the settings it summarises: numbers the next context.\n            flag := set_config(''pgwarden._context'', txv::text || '':'' || seq || '':'' || sig, true);\n            -- Wakes `pgwarden changes --follow` readers; delivered once, at commit.\n            flag := pg_notify(''pgwarden_changes'', '''')::text;\n        end if;\n    end if;\n\n    return null;\nend\n'	DROP FUNCTION IF EXISTS "warden"."public_events__audit"()	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
function warden.public_events__audit_rows	function	{"kind": "function", "name": "public_events__audit_rows", "schema": "warden"}	audit	{"name": "events", "schema": "public"}	function capturing changes of public.events	e3726fed17b3c016	26ba5e250cce06ebac4d15224b0692cc	CREATE OR REPLACE FUNCTION "warden"."public_events__audit_rows"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET enable_nestloop = off SET jit = off AS '-- Captures every change of public.events into warden.audit_events, one call per row.\n-- Generated by pgwarden (feature: audit). Row-level, because this table is partitioned:\n-- a trigger on the parent is cloned to every partition, present and future, and so sees\n-- changes made through a partition directly, which statement-level capture would miss.\n-- The rows of one statement share its statement ids (time travel applies a statement''s\n-- removals before its additions: keys shifted or swapped in one statement): they are kept\n-- in a transaction-local setting with the statement''s start, and closed after the statement\n-- by the statement trigger pgwarden_audit_s (this same function) on the table and each\n-- partition.\ndeclare\n    tid int;\n    txv xid8;\n    seq int;\n    sid bigint;\n    sig text;\n    flag text;\n    fresh boolean := false;\n    excluded text[];\n    redacted text[];\n    at_ timestamptz := clock_timestamp();\n    written bigint := 1;\n    open_statement text;\n    oj jsonb;\n    nj jsonb;\n    ok jsonb;\n    nk jsonb;\nbegin\n    tid := 18562;\n    if tg_level = ''STATEMENT'' then\n        perform set_config(''pgwarden._rows_'' || tid, '''', true);\n        return null;\n    end if;\n    if tg_op = ''UPDATE'' or tg_op = ''DELETE'' then\n        oj := (select to_jsonb("o".*) from (select old.*) o);\n        ok := case when "oj" ?& ''{id,at}'' then jsonb_build_array("oj" -> ''id'', "oj" -> ''at'') else warden.audit_live_key(tg_relid, "oj") end;\n    end if;\n    if tg_op = ''UPDATE'' or tg_op = ''INSERT'' then\n        nj := (select to_jsonb("n".*) from (select new.*) n);\n        nk := case when "nj" ?& ''{id,at}'' then jsonb_build_array("nj" -> ''id'', "nj" -> ''at'') else warden.audit_live_key(tg_relid, "nj") end;\n    end if;\n    if tg_op = ''UPDATE'' and not (oj is distinct from nj) then\n        return null;\n    end if;\n    txv := pg_current_xact_id();\n    -- The transaction''s context is recorded once per transaction (again, with the next\n    -- sequence number, if the settings change mid-transaction). Simple expressions only.\n    sig := concat_ws(chr(31), current_setting(''pgwarden.actor'', true),\n                     current_setting(''pgwarden.tenant'', true),\n                     current_setting(''pgwarden.reason'', true),\n                     current_setting(''pgwarden.request_id'', true));\n    flag := current_setting(''pgwarden._context'', true);\n    if flag is not null and split_part(flag, '':'', 1) = txv::text then\n        seq := split_part(flag, '':'', 2)::int;\n        if flag <> txv::text || '':'' || seq || '':'' || sig then\n            seq := seq + 1;\n            fresh := true;\n        end if;\n    else\n        seq := 1;\n        fresh := true;\n    end if;\n\n    open_statement := current_setting(''pgwarden._rows_'' || tid, true);\n    if split_part(open_statement, ''@'', 2) is distinct from statement_timestamp()::text then\n        -- Two ids per statement: its deletes take the first, so they come before its other\n        -- changes (an UPDATE moving a row to another partition deletes and inserts it).\n        sid := nextval(''warden.audit_statement_seq'');\n        open_statement := sid || '':'' || nextval(''warden.audit_statement_seq'') || ''@''\n                          || statement_timestamp();\n        perform set_config(''pgwarden._rows_'' || tid, open_statement, true);\n    end if;\n    sid := split_part(split_part(open_statement, ''@'', 1), '':'',\n                      case when tg_op = ''DELETE'' then 1 else 2 end)::bigint;\n    if tg_op = ''INSERT'' then\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,\n                                         new_row)\n        values (sid, txv, seq, tid, ''I'', at_, nk, nj);\n    elsif tg_op = ''UPDATE'' then\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,\n                                         old_key, old_row, new_row)\n        values (sid, txv, seq, tid, ''U'', at_, nk, nullif(ok, nk), oj, nj);\n    else\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,\n                                         old_row)\n        values (sid, txv, seq, tid, ''D'', at_, ok, oj);\n    end if;\n    -- Written whenever events were, not only when the flag says it is missing: the flag is a\n    -- setting any session can change, and must not be able to leave events without context.\n    if written > 0 then\n        insert into warden.audit_contexts (txid, context_seq, tx_started_at, actor, tenant, reason,\n                request_id, login_role, acting_role, client_addr, application_name, backend_pid)\n        values (txv, seq, now(),\n                nullif(current_setting(''pgwarden.actor'', true), ''''),\n                nullif(current_setting(''pgwarden.tenant'', true), ''''),\n                nullif(current_setting(''pgwarden.reason'', true), ''''),\n                nullif(current_setting(''pgwarden.request_id'', true), ''''),\n                session_user,\n                -- SECURITY DEFINER hides the caller''s current_user; SET ROLE shows here.\n                coalesce(nullif(current_setting(''role''), ''none''), session_user),\n                inet_client_addr(), current_setting(''application_name''), pg_backend_pid())\n        on conflict do nothing;\n        if fresh then\n            -- Transaction-local, like the settings it summarises: numbers the next context.\n            flag := set_config(''pgwarden._context'', txv::text || '':'' || seq || '':'' || sig, true);\n            -- Wakes `pgwarden changes --follow` readers; delivered once, at commit.\n            flag := pg_notify(''pgwarden_changes'', '''')::text;\n        end if;\n    end if;\n\n    return null;\nend\n'	DROP FUNCTION IF EXISTS "warden"."public_events__audit_rows"()	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
function warden.public_notes__audit	function	{"kind": "function", "name": "public_notes__audit", "schema": "warden"}	audit	{"name": "notes", "schema": "public"}	function capturing changes of public.notes	8c7d2bd9c2822d2c	57da5eee9c4c19d83b74198060bf5489	CREATE OR REPLACE FUNCTION "warden"."public_notes__audit"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS '-- Marks the statements on public.notes in the WAL for pgwarden''s ingester (capture = "wal").\n-- Generated by pgwarden (feature: audit). The changed rows reach the store from the WAL\n-- (REPLICA IDENTITY FULL, publication pgwarden_audit). Every statement''s trigger\n-- pgwarden_audit_w (warden.audit_wal_statement) sends the transaction''s context when it is\n-- new or changed (warden_wal.context). This function, for the rarer statements, adds signed\n-- transactional logical messages (warden.audit_wal_signed):\n--   B/E  the bounds of an UPDATE that can change keys (pgwarden_audit_k, _e): inside one, a\n--      row''s new key can be another row''s old key, so its rows are one statement;\n--   T, R  a TRUNCATE and the rows it removes (none of them is in the WAL otherwise).\ndeclare\n    tid int;\n    excluded text[];\n    redacted text[];\n    written bigint;\n    sent pg_lsn;\n    said text;\nbegin\n    tid := 18572;\n    if tg_when = ''AFTER'' then\n        sent := pg_logical_emit_message(true, ''pgwarden.audit'',\n            warden.audit_wal_signed(''E'' || json_build_array(tid)::text));\n        return null;\n    end if;\n    said := warden_wal.context();\n    if tg_op = ''UPDATE'' then\n        sent := pg_logical_emit_message(true, ''pgwarden.audit'',\n            warden.audit_wal_signed(''B'' || json_build_array(tid)::text));\n    elsif tg_op = ''TRUNCATE'' then\n        -- Its partitions too: their own TRUNCATE triggers (same statement) record nothing.\n        sent := pg_logical_emit_message(true, ''pgwarden.audit'', warden.audit_wal_signed(\n            ''T'' || json_build_array(tid, tg_relid::bigint, array(\n                select p.relid::oid::bigint from pg_catalog.pg_partition_tree(tg_relid) p))::text));\n        select count(pg_logical_emit_message(true, ''pgwarden.audit'', warden.audit_wal_signed(''R'' || (to_jsonb("o".*))::text))) into written\n          from "public"."notes" o where o.tableoid = tg_relid or o.tableoid in (select p.relid from pg_catalog.pg_partition_tree(tg_relid) p where p.isleaf);\n    end if;\n    return null;\nend\n'	DROP FUNCTION IF EXISTS "warden"."public_notes__audit"()	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
function warden.public_orders__audit	function	{"kind": "function", "name": "public_orders__audit", "schema": "warden"}	audit	{"name": "orders", "schema": "public"}	function capturing changes of public.orders	e32f3064f5e8ad12	e58ba9aad74eef52b1c7450cdc3843f1	CREATE OR REPLACE FUNCTION "warden"."public_orders__audit"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET enable_nestloop = off SET jit = off AS '-- Captures every change of public.orders into warden.audit_events, one INSERT per statement.\n-- Generated by pgwarden (feature: audit). Statement-level: the rows come from the\n-- statement''s transition tables, so a bulk UPDATE costs one query, not one call per row.\ndeclare\n    tid int;\n    txv xid8;\n    seq int;\n    sid bigint;\n    sig text;\n    flag text;\n    fresh boolean := false;\n    excluded text[];\n    redacted text[];\n    at_ timestamptz := clock_timestamp();\n    written bigint := 0;\nbegin\n    tid := 18567;\n    if tg_op = ''TRUNCATE'' then\n        txv := pg_current_xact_id();\n    else\n        -- No transaction id yet: this statement changed no row, nor did any before it.\n        txv := pg_current_xact_id_if_assigned();\n        if txv is null then\n            return null;\n        end if;\n    end if;\n    -- The transaction''s context is recorded once per transaction (again, with the next\n    -- sequence number, if the settings change mid-transaction). Simple expressions only.\n    sig := concat_ws(chr(31), current_setting(''pgwarden.actor'', true),\n                     current_setting(''pgwarden.tenant'', true),\n                     current_setting(''pgwarden.reason'', true),\n                     current_setting(''pgwarden.request_id'', true));\n    flag := current_setting(''pgwarden._context'', true);\n    if flag is not null and split_part(flag, '':'', 1) = txv::text then\n        seq := split_part(flag, '':'', 2)::int;\n        if flag <> txv::text || '':'' || seq || '':'' || sig then\n            seq := seq + 1;\n            fresh := true;\n        end if;\n    else\n        seq := 1;\n        fresh := true;\n    end if;\n\n    sid := nextval(''warden.audit_statement_seq'');\n    if tg_op = ''INSERT'' then\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,\n                                         new_row)\n        select sid, txv, seq, tid, ''I'', at_, case when "nj" ?& ''{id}'' then jsonb_build_array("nj" -> ''id'') else warden.audit_live_key(tg_relid, "nj") end, s.nj\n          from (select to_jsonb("n".*) as nj from new_rows n) s;\n        get diagnostics written = row_count;\n    elsif tg_op = ''UPDATE'' then\n        -- Old and new transition tables hold the rows in the same order, which pairs them\n        -- even when the statement changed keys (shifts, swaps, cross-partition moves). The\n        -- function runs with enable_nestloop off, so that a plan cached from a one-row\n        -- statement never pairs a big one with a nested loop (quadratic in rows).\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key, old_key, old_row, new_row) select sid, txv, seq, tid, ''U'', at_, k.nk, nullif(k.ok, k.nk), a.oj, b.nj from (select row_number() over () as i, to_jsonb("o".*) as oj from old_rows o) a join (select row_number() over () as i, to_jsonb("n".*) as nj from new_rows n) b on a.i = b.i cross join lateral (select case when "oj" ?& ''{id}'' then jsonb_build_array("oj" -> ''id'') else warden.audit_live_key(tg_relid, "oj") end as ok, case when "nj" ?& ''{id}'' then jsonb_build_array("nj" -> ''id'') else warden.audit_live_key(tg_relid, "nj") end as nk) k where a.oj is distinct from b.nj;\n        get diagnostics written = row_count;\n    elsif tg_op = ''DELETE'' then\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, row_key,\n                                         old_row)\n        select sid, txv, seq, tid, ''D'', at_, case when "oj" ?& ''{id}'' then jsonb_build_array("oj" -> ''id'') else warden.audit_live_key(tg_relid, "oj") end, s.oj\n          from (select to_jsonb("o".*) as oj from old_rows o) s;\n        get diagnostics written = row_count;\n    elsif tg_op = ''TRUNCATE'' and tg_relid = (select t.relid from warden.audit_tables t\n                                              where t.table_id = tid) then\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at)\n        values (sid, txv, seq, tid, ''T'', at_);\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id,\n                                         op, at, row_key, old_row)\n        select sid, txv, seq, tid, ''D'', at_, case when "oj" ?& ''{id}'' then jsonb_build_array("oj" -> ''id'') else warden.audit_live_key(tg_relid, "oj") end, s.oj\n          from (select to_jsonb("o".*) as oj from "public"."orders" o) s;\n        written := 1;\n    elsif tg_op = ''TRUNCATE'' then\n        -- The partitions'' own TRUNCATE triggers fire right after the table''s, in the same\n        -- statement: its rows are recorded already. Told by the store (only its owner writes\n        -- it), not by a setting a session could forge to hide a partition''s rows: when this\n        -- table''s latest statement in the transaction truncated it whole, every partition\n        -- is empty since, and there is nothing to record.\n        if exists (select 1 from warden.audit_events e\n                    where e.txid = txv and e.table_id = tid and e.op = ''T''\n                      and e.statement_id = (select max(l.statement_id)\n                                              from warden.audit_events l\n                                             where l.txid = txv and l.table_id = tid)) then\n            return null;\n        end if;\n        -- One partition truncated on its own: its rows go, one event each (a table-wide\n        -- truncate mark would wipe the other partitions from time travel).\n        insert into warden.audit_events (statement_id, txid, context_seq, table_id,\n                                         op, at, row_key, old_row)\n        select sid, txv, seq, tid, ''D'', at_, case when "oj" ?& ''{id}'' then jsonb_build_array("oj" -> ''id'') else warden.audit_live_key(tg_relid, "oj") end, s.oj\n          from (select to_jsonb("o".*) as oj from "public"."orders" o where o.tableoid in (select p.relid from pg_catalog.pg_partition_tree(tg_relid) p where p.isleaf)) s;\n        get diagnostics written = row_count;\n    end if;\n    -- Written whenever events were, not only when the flag says it is missing: the flag is a\n    -- setting any session can change, and must not be able to leave events without context.\n    if written > 0 then\n        insert into warden.audit_contexts (txid, context_seq, tx_started_at, actor, tenant, reason,\n                request_id, login_role, acting_role, client_addr, application_name, backend_pid)\n        values (txv, seq, now(),\n                nullif(current_setting(''pgwarden.actor'', true), ''''),\n                nullif(current_setting(''pgwarden.tenant'', true), ''''),\n                nullif(current_setting(''pgwarden.reason'', true), ''''),\n                nullif(current_setting(''pgwarden.request_id'', true), ''''),\n                session_user,\n                -- SECURITY DEFINER hides the caller''s current_user; SET ROLE shows here.\n                coalesce(nullif(current_setting(''role''), ''none''), session_user),\n                inet_client_addr(), current_setting(''application_name''), pg_backend_pid())\n        on conflict do nothing;\n        if fresh then\n            -- Transaction-local, like the settings it summarises: numbers the next context.\n            flag := set_config(''pgwarden._context'', txv::text || '':'' || seq || '':'' || sig, true);\n            -- Wakes `pgwarden changes --follow` readers; delivered once, at commit.\n            flag := pg_notify(''pgwarden_changes'', '''')::text;\n        end if;\n    end if;\n\n    return null;\nend\n'	DROP FUNCTION IF EXISTS "warden"."public_orders__audit"()	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
event_trigger warden.pgwarden_audit_columns	event_trigger	{"kind": "event_trigger", "name": "pgwarden_audit_columns", "schema": "warden"}	audit	{"name": "accounts", "schema": "public"}	event trigger recording column renames of audited tables (time travel and revert across RENAME COLUMN)	8e895c62eb7ee43a	f702631d1000fc0ac4e1fc22e29f786a	DROP EVENT TRIGGER IF EXISTS "pgwarden_audit_columns"; CREATE EVENT TRIGGER "pgwarden_audit_columns" ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION warden.audit_track_columns()	DROP EVENT TRIGGER IF EXISTS "pgwarden_audit_columns"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
event_trigger warden.pgwarden_audit_partitions	event_trigger	{"kind": "event_trigger", "name": "pgwarden_audit_partitions", "schema": "warden"}	audit	{"name": "accounts", "schema": "public"}	event trigger giving partitions made or attached by hand under an audited table their statement triggers and REPLICA IDENTITY at once	fb17e035e7789f2e	f82320877ff4629db950147bcc42c6db	DROP EVENT TRIGGER IF EXISTS "pgwarden_audit_partitions"; CREATE EVENT TRIGGER "pgwarden_audit_partitions" ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE') EXECUTE FUNCTION warden.audit_adopt_partitions()	DROP EVENT TRIGGER IF EXISTS "pgwarden_audit_partitions"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.accounts/pgwarden_audit_d	trigger	{"kind": "trigger", "name": "pgwarden_audit_d", "schema": "public", "relation": {"name": "accounts", "schema": "public"}}	audit	{"name": "accounts", "schema": "public"}	trigger pgwarden_audit_d on public.accounts	b533b2b12f152e65	488886f878d6ca8b483f0c1d26078fdc	CREATE OR REPLACE TRIGGER "pgwarden_audit_d" AFTER DELETE ON "public"."accounts" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_accounts__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_d" ON "public"."accounts"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.accounts/pgwarden_audit_i	trigger	{"kind": "trigger", "name": "pgwarden_audit_i", "schema": "public", "relation": {"name": "accounts", "schema": "public"}}	audit	{"name": "accounts", "schema": "public"}	trigger pgwarden_audit_i on public.accounts	34788cbe67c00875	445ccab4460a42d89466208a2d229941	CREATE OR REPLACE TRIGGER "pgwarden_audit_i" AFTER INSERT ON "public"."accounts" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_accounts__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_i" ON "public"."accounts"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.accounts/pgwarden_audit_t	trigger	{"kind": "trigger", "name": "pgwarden_audit_t", "schema": "public", "relation": {"name": "accounts", "schema": "public"}}	audit	{"name": "accounts", "schema": "public"}	trigger pgwarden_audit_t on public.accounts	cd067ffd6f51e149	1fd6512ce08523730c20470c0e4014d7	CREATE OR REPLACE TRIGGER "pgwarden_audit_t" BEFORE TRUNCATE ON "public"."accounts" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_accounts__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_t" ON "public"."accounts"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.accounts/pgwarden_audit_u	trigger	{"kind": "trigger", "name": "pgwarden_audit_u", "schema": "public", "relation": {"name": "accounts", "schema": "public"}}	audit	{"name": "accounts", "schema": "public"}	trigger pgwarden_audit_u on public.accounts	dacf057dc3212a68	3eb63d0a3cdd6cda68ee5882a15f66c3	CREATE OR REPLACE TRIGGER "pgwarden_audit_u" AFTER UPDATE ON "public"."accounts" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_accounts__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_u" ON "public"."accounts"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.accounts/pgwarden_soft_delete	trigger	{"kind": "trigger", "name": "pgwarden_soft_delete", "schema": "public", "relation": {"name": "accounts", "schema": "public"}}	soft_delete	{"name": "accounts", "schema": "public"}	trigger pgwarden_soft_delete on public.accounts	338a2c781277d195	9e3113662ee98a2c8afe8203c60aad0a	CREATE OR REPLACE TRIGGER "pgwarden_soft_delete" BEFORE DELETE ON "public"."accounts" FOR EACH ROW EXECUTE FUNCTION "warden"."public_accounts__soft_delete"()	DROP TRIGGER IF EXISTS "pgwarden_soft_delete" ON "public"."accounts"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.accounts/pgwarden_soft_delete_state	trigger	{"kind": "trigger", "name": "pgwarden_soft_delete_state", "schema": "public", "relation": {"name": "accounts", "schema": "public"}}	soft_delete	{"name": "accounts", "schema": "public"}	trigger pgwarden_soft_delete_state on public.accounts	3918d764aacaa235	50e3ad56dc1785c3e14aba1f98b0baa1	CREATE OR REPLACE TRIGGER "pgwarden_soft_delete_state" BEFORE UPDATE ON "public"."accounts" FOR EACH ROW WHEN ((OLD."deleted_at" IS DISTINCT FROM NEW."deleted_at" OR OLD."deletion_id" IS DISTINCT FROM NEW."deletion_id" OR OLD."deleted_by" IS DISTINCT FROM NEW."deleted_by") AND NOT (NEW."deleted_at" IS NULL AND NEW."deletion_id" IS NULL AND NEW."deleted_by" IS NULL) AND NOT (OLD."deleted_at" IS NULL AND NEW."deleted_at" IS NOT NULL AND NEW."deletion_id" IS NOT NULL AND NEW."deleted_by" IS NOT NULL) AND NOT (OLD."deleted_at" IS NOT NULL AND NEW."deleted_at" IS NOT NULL AND NEW."deletion_id" IS NOT DISTINCT FROM OLD."deletion_id" AND NEW."deleted_by" IS NOT DISTINCT FROM OLD."deleted_by")) EXECUTE FUNCTION "warden"."public_accounts__soft_delete_state"()	DROP TRIGGER IF EXISTS "pgwarden_soft_delete_state" ON "public"."accounts"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.accounts/pgwarden_soft_delete_truncate	trigger	{"kind": "trigger", "name": "pgwarden_soft_delete_truncate", "schema": "public", "relation": {"name": "accounts", "schema": "public"}}	soft_delete	{"name": "accounts", "schema": "public"}	trigger pgwarden_soft_delete_truncate on public.accounts	a40b1fa46be48910	1416380fd89811305e2de72386ee8d71	CREATE OR REPLACE TRIGGER "pgwarden_soft_delete_truncate" BEFORE TRUNCATE ON "public"."accounts" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_accounts__soft_delete_truncate"()	DROP TRIGGER IF EXISTS "pgwarden_soft_delete_truncate" ON "public"."accounts"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.events/pgwarden_audit	trigger	{"kind": "trigger", "name": "pgwarden_audit", "schema": "public", "relation": {"name": "events", "schema": "public"}}	audit	{"name": "events", "schema": "public"}	trigger pgwarden_audit on public.events	add633eec63da887	4a4016e0e649bb1808a2a1b96d17a75f	CREATE OR REPLACE TRIGGER "pgwarden_audit" AFTER INSERT OR UPDATE OR DELETE ON "public"."events" FOR EACH ROW EXECUTE FUNCTION "warden"."public_events__audit_rows"()	DROP TRIGGER IF EXISTS "pgwarden_audit" ON "public"."events"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.events/pgwarden_audit_s	trigger	{"kind": "trigger", "name": "pgwarden_audit_s", "schema": "public", "relation": {"name": "events", "schema": "public"}}	audit	{"name": "events", "schema": "public"}	trigger pgwarden_audit_s on public.events	9b36a7947600ae52	d62d214bfcc07e3b43293c5c401a4b22	CREATE OR REPLACE TRIGGER "pgwarden_audit_s" AFTER INSERT OR UPDATE OR DELETE ON "public"."events" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_events__audit_rows"()	DROP TRIGGER IF EXISTS "pgwarden_audit_s" ON "public"."events"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.events/pgwarden_audit_t	trigger	{"kind": "trigger", "name": "pgwarden_audit_t", "schema": "public", "relation": {"name": "events", "schema": "public"}}	audit	{"name": "events", "schema": "public"}	trigger pgwarden_audit_t on public.events	8bb2ab3297944198	d2015a16ce6919f0cf4e8adef54881de	CREATE OR REPLACE TRIGGER "pgwarden_audit_t" BEFORE TRUNCATE ON "public"."events" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_events__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_t" ON "public"."events"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.notes/pgwarden_audit_e	trigger	{"kind": "trigger", "name": "pgwarden_audit_e", "schema": "public", "relation": {"name": "notes", "schema": "public"}}	audit	{"name": "notes", "schema": "public"}	trigger pgwarden_audit_e on public.notes	208c776356be559f	d4e7d5dfa54d37bdcdc8fcd6e764b2c8	CREATE OR REPLACE TRIGGER "pgwarden_audit_e" AFTER UPDATE OF "id" ON "public"."notes" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_notes__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_e" ON "public"."notes"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.notes/pgwarden_audit_k	trigger	{"kind": "trigger", "name": "pgwarden_audit_k", "schema": "public", "relation": {"name": "notes", "schema": "public"}}	audit	{"name": "notes", "schema": "public"}	trigger pgwarden_audit_k on public.notes	f0a809290a9038ff	fd39b29c209781dd0c0070f4bef7fde8	CREATE OR REPLACE TRIGGER "pgwarden_audit_k" BEFORE UPDATE OF "id" ON "public"."notes" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_notes__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_k" ON "public"."notes"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.notes/pgwarden_audit_t	trigger	{"kind": "trigger", "name": "pgwarden_audit_t", "schema": "public", "relation": {"name": "notes", "schema": "public"}}	audit	{"name": "notes", "schema": "public"}	trigger pgwarden_audit_t on public.notes	bf2b1a10124fabd9	1223a2c2e8bb8d78ddeeda20f6541cd7	CREATE OR REPLACE TRIGGER "pgwarden_audit_t" BEFORE TRUNCATE ON "public"."notes" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_notes__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_t" ON "public"."notes"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.notes/pgwarden_audit_w	trigger	{"kind": "trigger", "name": "pgwarden_audit_w", "schema": "public", "relation": {"name": "notes", "schema": "public"}}	audit	{"name": "notes", "schema": "public"}	trigger pgwarden_audit_w on public.notes	2680b6cd3291d825	187ab8ae70b39be9a91a76613f643cda	CREATE OR REPLACE TRIGGER "pgwarden_audit_w" BEFORE INSERT OR UPDATE OR DELETE ON "public"."notes" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."audit_wal_statement"()	DROP TRIGGER IF EXISTS "pgwarden_audit_w" ON "public"."notes"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.orders/pgwarden_audit_d	trigger	{"kind": "trigger", "name": "pgwarden_audit_d", "schema": "public", "relation": {"name": "orders", "schema": "public"}}	audit	{"name": "orders", "schema": "public"}	trigger pgwarden_audit_d on public.orders	ad2d3f18d7ddc055	d01c8ec23c7ad6448a029928275017ae	CREATE OR REPLACE TRIGGER "pgwarden_audit_d" AFTER DELETE ON "public"."orders" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_orders__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_d" ON "public"."orders"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.orders/pgwarden_audit_i	trigger	{"kind": "trigger", "name": "pgwarden_audit_i", "schema": "public", "relation": {"name": "orders", "schema": "public"}}	audit	{"name": "orders", "schema": "public"}	trigger pgwarden_audit_i on public.orders	3037e5d4b955b2ae	21f8f851d48bc358e15bfdf18361a925	CREATE OR REPLACE TRIGGER "pgwarden_audit_i" AFTER INSERT ON "public"."orders" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_orders__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_i" ON "public"."orders"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.orders/pgwarden_audit_t	trigger	{"kind": "trigger", "name": "pgwarden_audit_t", "schema": "public", "relation": {"name": "orders", "schema": "public"}}	audit	{"name": "orders", "schema": "public"}	trigger pgwarden_audit_t on public.orders	4e59dab9ee5241f1	a72c48b44d034946da90a543833dd131	CREATE OR REPLACE TRIGGER "pgwarden_audit_t" BEFORE TRUNCATE ON "public"."orders" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_orders__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_t" ON "public"."orders"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.orders/pgwarden_audit_u	trigger	{"kind": "trigger", "name": "pgwarden_audit_u", "schema": "public", "relation": {"name": "orders", "schema": "public"}}	audit	{"name": "orders", "schema": "public"}	trigger pgwarden_audit_u on public.orders	acbaea29d84ed430	5d8b2b2b65eac5eb0b4c14812636cc79	CREATE OR REPLACE TRIGGER "pgwarden_audit_u" AFTER UPDATE ON "public"."orders" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_orders__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_u" ON "public"."orders"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
replica_identity public.notes/full	replica_identity	{"kind": "replica_identity", "name": "full", "schema": "public", "relation": {"name": "notes", "schema": "public"}}	audit	{"name": "notes", "schema": "public"}	REPLICA IDENTITY FULL on public.notes (old rows in the WAL)	959ef004f4c174a3	full	ALTER TABLE "public"."notes" REPLICA IDENTITY FULL	ALTER TABLE IF EXISTS "public"."notes" REPLICA IDENTITY DEFAULT	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
publication_table public.notes/pgwarden_audit	publication_table	{"kind": "publication_table", "name": "pgwarden_audit", "schema": "public", "relation": {"name": "notes", "schema": "public"}}	audit	{"name": "notes", "schema": "public"}	public.notes in publication pgwarden_audit (read by the audit ingester through this database's slot)	86c0c33ec91e6391	member	DO $$ BEGIN ALTER PUBLICATION "pgwarden_audit" ADD TABLE "public"."notes"; EXCEPTION WHEN duplicate_object THEN NULL; END $$	DO $$ BEGIN ALTER PUBLICATION "pgwarden_audit" DROP TABLE "public"."notes"; EXCEPTION WHEN undefined_object OR undefined_table THEN NULL; END $$	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
index archive.orders_pkey	index	{"kind": "index", "name": "orders_pkey", "schema": "archive"}	archive	{"name": "orders", "schema": "public"}	primary key of archive archive.orders (id)	eec9a3c32d550341	ee647f505c9a2f97208f3746bf5dd049	ALTER TABLE "archive"."orders" ADD CONSTRAINT "orders_pkey" PRIMARY KEY ("id")	ALTER TABLE "archive"."orders" DROP CONSTRAINT IF EXISTS "orders_pkey"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
index public.accounts__deleted	index	{"kind": "index", "name": "accounts__deleted", "schema": "public"}	soft_delete	{"name": "accounts", "schema": "public"}	index accounts__deleted of the deleted rows of public.accounts	69c4a9f121644714	cbc193228e5df8a8b0e0fef76d8f45a9	CREATE INDEX "accounts__deleted" ON "public"."accounts" ("deleted_at") WHERE "deleted_at" IS NOT NULL	DROP INDEX IF EXISTS "public"."accounts__deleted"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
index public.accounts__deletion	index	{"kind": "index", "name": "accounts__deletion", "schema": "public"}	soft_delete	{"name": "accounts", "schema": "public"}	index accounts__deletion of the deleted rows of public.accounts	c9b78d843909cd8a	e51f10301c0f1b957ee023c70da7bfb6	CREATE INDEX "accounts__deletion" ON "public"."accounts" ("deletion_id") WHERE "deleted_at" IS NOT NULL	DROP INDEX IF EXISTS "public"."accounts__deletion"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
view public.accounts__live	view	{"kind": "view", "name": "accounts__live", "schema": "public"}	soft_delete	{"name": "accounts", "schema": "public"}	view public.accounts__live of the live rows of public.accounts	769410a75692022b	5637659927f751ac7ec1e3c61bbb1f30	CREATE VIEW "public"."accounts__live" WITH (security_invoker = true) AS SELECT * FROM "public"."accounts" WHERE "deleted_at" IS NULL; CREATE TRIGGER pgwarden_soft_delete INSTEAD OF DELETE ON "public"."accounts__live" FOR EACH ROW EXECUTE FUNCTION "warden"."public_accounts__live_delete"(); COMMENT ON VIEW "public"."accounts__live" IS 'Live rows of public.accounts (pgwarden soft_delete; columns 2cd9f0c6c04b).'	DROP VIEW IF EXISTS "public"."accounts__live"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
view public.accounts__versions	view	{"kind": "view", "name": "accounts__versions", "schema": "public"}	versioning	{"name": "accounts", "schema": "public"}	view public.accounts__versions of every version of public.accounts	b9b54632ae85b24f	30d9ce0a4df9d1eb0fbcf682b9720835	CREATE VIEW "public"."accounts__versions" AS SELECT v.version, v.valid_from, v.valid_to, v.op, v.actor, v.tenant, v.reason, v.request_id, v.txid, v.event_id, v.row_key, (jsonb_populate_record(NULL::"public"."accounts", v.row_data)).* FROM warden.versions(warden.audit_table_id('"public"."accounts"')) v; COMMENT ON VIEW "public"."accounts__versions" IS 'Every version of every row of public.accounts, from its audit trail (pgwarden versioning; columns 2cd9f0c6c04b).'	DROP VIEW IF EXISTS "public"."accounts__versions"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
view public.orders__all	view	{"kind": "view", "name": "orders__all", "schema": "public"}	archive	{"name": "orders", "schema": "public"}	view public.orders__all: live and archived rows of public.orders	5b0af1058054df57	3cd39c759863b50158b193e30a634c50	CREATE VIEW "public"."orders__all" WITH (security_invoker = true) AS SELECT "id", "placed", "total", NULL::timestamptz AS archived_at, 'live'::text AS "row_location" FROM "public"."orders" UNION ALL SELECT "id", "placed", "total", archived_at, 'archive'::text FROM "archive"."orders"	DROP VIEW IF EXISTS "public"."orders__all"	f	2026-12-06 09:07:39.532074+00	2026-12-06 09:07:39.532074+00
trigger public.events__p202701/pgwarden_audit_s	trigger	{"kind": "trigger", "name": "pgwarden_audit_s", "schema": "public", "relation": {"name": "events__p202701", "schema": "public"}}	audit	{"name": "events", "schema": "public"}	trigger pgwarden_audit_s on partition public.events__p202701	0e68cb5132b854b7	69a397aa976ae5a8481d03a9477cd284	CREATE OR REPLACE TRIGGER "pgwarden_audit_s" AFTER INSERT OR UPDATE OR DELETE ON "public"."events__p202701" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_events__audit_rows"()	DROP TRIGGER IF EXISTS "pgwarden_audit_s" ON "public"."events__p202701"	f	2026-12-06 09:07:39.907811+00	2026-12-06 09:07:39.907811+00
trigger public.events__p202701/pgwarden_audit_t	trigger	{"kind": "trigger", "name": "pgwarden_audit_t", "schema": "public", "relation": {"name": "events__p202701", "schema": "public"}}	audit	{"name": "events", "schema": "public"}	trigger pgwarden_audit_t on partition public.events__p202701	d557ba39418c6bc8	ddecdf0d12f78c728ce722558a751c04	CREATE OR REPLACE TRIGGER "pgwarden_audit_t" BEFORE TRUNCATE ON "public"."events__p202701" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_events__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_t" ON "public"."events__p202701"	f	2026-12-06 09:07:39.907811+00	2026-12-06 09:07:39.907811+00
trigger public.events__default/pgwarden_audit_s	trigger	{"kind": "trigger", "name": "pgwarden_audit_s", "schema": "public", "relation": {"name": "events__default", "schema": "public"}}	audit	{"name": "events", "schema": "public"}	trigger pgwarden_audit_s on partition public.events__default	d818545a6b464557	83bdc5530e011ff95a9ebf84fe815b79	CREATE OR REPLACE TRIGGER "pgwarden_audit_s" AFTER INSERT OR UPDATE OR DELETE ON "public"."events__default" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_events__audit_rows"()	DROP TRIGGER IF EXISTS "pgwarden_audit_s" ON "public"."events__default"	f	2026-12-06 09:07:39.965078+00	2026-12-06 09:07:39.965078+00
trigger public.events__default/pgwarden_audit_t	trigger	{"kind": "trigger", "name": "pgwarden_audit_t", "schema": "public", "relation": {"name": "events__default", "schema": "public"}}	audit	{"name": "events", "schema": "public"}	trigger pgwarden_audit_t on partition public.events__default	9bfd505980a12826	d60d33ada08c3a2b65824664a8d7cf37	CREATE OR REPLACE TRIGGER "pgwarden_audit_t" BEFORE TRUNCATE ON "public"."events__default" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_events__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_t" ON "public"."events__default"	f	2026-12-06 09:07:39.965078+00	2026-12-06 09:07:39.965078+00
trigger public.events__p202612/pgwarden_audit_s	trigger	{"kind": "trigger", "name": "pgwarden_audit_s", "schema": "public", "relation": {"name": "events__p202612", "schema": "public"}}	audit	{"name": "events", "schema": "public"}	trigger pgwarden_audit_s on partition public.events__p202612	53f896d89b55acde	9d2593cea3655a7c2a1f0d67dc658b26	CREATE OR REPLACE TRIGGER "pgwarden_audit_s" AFTER INSERT OR UPDATE OR DELETE ON "public"."events__p202612" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_events__audit_rows"()	DROP TRIGGER IF EXISTS "pgwarden_audit_s" ON "public"."events__p202612"	f	2026-12-06 09:07:39.965078+00	2026-12-06 09:07:39.965078+00
trigger public.events__p202612/pgwarden_audit_t	trigger	{"kind": "trigger", "name": "pgwarden_audit_t", "schema": "public", "relation": {"name": "events__p202612", "schema": "public"}}	audit	{"name": "events", "schema": "public"}	trigger pgwarden_audit_t on partition public.events__p202612	6493f4450827daca	9b26a426dd3c029adc2930440574dde9	CREATE OR REPLACE TRIGGER "pgwarden_audit_t" BEFORE TRUNCATE ON "public"."events__p202612" FOR EACH STATEMENT EXECUTE FUNCTION "warden"."public_events__audit"()	DROP TRIGGER IF EXISTS "pgwarden_audit_t" ON "public"."events__p202612"	f	2026-12-06 09:07:39.965078+00	2026-12-06 09:07:39.965078+00
\.
COPY warden.partition_conversions (relid, table_schema, table_name, shadow_name, log_name, key_columns, state, last_key, copied, started_at, updated_at) FROM stdin;
\.
COPY warden.partition_detached (partition_schema, partition_name, parent_schema, parent_name, mode, detached_at, done_at, rows) FROM stdin;
\.
COPY warden.secrets (name, value) FROM stdin;
audit_redaction	4afe6785cefe505c4d101a957b8d355ede3e2b836f33efbc4d3b91ffe1e89763
hard_delete	690dc7af986e946a054159a300ff62caeb7d99cb1422d5c55e1dff016209b29e
\.
SELECT pg_catalog.setval('warden.applies_apply_id_seq', 1, true);
SELECT pg_catalog.setval('warden.audit_events_event_id_seq1', 22, true);
SELECT pg_catalog.setval('warden.audit_statement_seq', 16, true);
SELECT pg_catalog.setval('warden.deletion_ids', 1, true);
SELECT pg_catalog.setval('warden.maintenance_runs_run_id_seq', 1, false);
ALTER TABLE ONLY archive.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.accounts
    ADD CONSTRAINT accounts_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id, at);
ALTER TABLE ONLY public.events__p202612
    ADD CONSTRAINT events__p202612_pkey PRIMARY KEY (id, at);
ALTER TABLE ONLY public.events__p202701
    ADD CONSTRAINT events__p202701_pkey PRIMARY KEY (id, at);
ALTER TABLE ONLY public.events__default
    ADD CONSTRAINT events__pgw_default_pkey PRIMARY KEY (id, at);
ALTER TABLE ONLY public.notes
    ADD CONSTRAINT notes_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);
ALTER TABLE ONLY warden.applies
    ADD CONSTRAINT applies_pkey PRIMARY KEY (apply_id);
ALTER TABLE ONLY warden.audit_columns
    ADD CONSTRAINT audit_columns_pkey PRIMARY KEY (table_id, attnum, since);
ALTER TABLE ONLY warden.audit_contexts
    ADD CONSTRAINT audit_contexts_pkey PRIMARY KEY (txid, context_seq);
ALTER TABLE ONLY warden.audit_tables
    ADD CONSTRAINT audit_tables_pkey PRIMARY KEY (table_id);
ALTER TABLE ONLY warden.audit_tables
    ADD CONSTRAINT audit_tables_relid_key UNIQUE (relid);
ALTER TABLE ONLY warden.audit_wal_key
    ADD CONSTRAINT audit_wal_key_pkey PRIMARY KEY (one);
ALTER TABLE ONLY warden.audit_wal
    ADD CONSTRAINT audit_wal_pkey PRIMARY KEY (slot_name);
ALTER TABLE ONLY warden.maintenance_runs
    ADD CONSTRAINT maintenance_runs_pkey PRIMARY KEY (run_id);
ALTER TABLE ONLY warden.migrations
    ADD CONSTRAINT migrations_pkey PRIMARY KEY (version);
ALTER TABLE ONLY warden.owned_objects
    ADD CONSTRAINT owned_objects_pkey PRIMARY KEY (object_key);
ALTER TABLE ONLY warden.partition_conversions
    ADD CONSTRAINT partition_conversions_pkey PRIMARY KEY (relid);
ALTER TABLE ONLY warden.partition_detached
    ADD CONSTRAINT partition_detached_pkey PRIMARY KEY (partition_schema, partition_name, detached_at);
ALTER TABLE ONLY warden.secrets
    ADD CONSTRAINT secrets_pkey PRIMARY KEY (name);
CREATE INDEX accounts__deleted ON public.accounts USING btree (deleted_at) WHERE (deleted_at IS NOT NULL);
CREATE INDEX accounts__deletion ON public.accounts USING btree (deletion_id) WHERE (deleted_at IS NOT NULL);
CREATE INDEX audit_events_at ON ONLY warden.audit_events USING brin (at);
CREATE INDEX audit_events__default_at_idx ON warden.audit_events__default USING brin (at);
CREATE INDEX audit_events_feed ON ONLY warden.audit_events USING brin (event_id);
CREATE INDEX audit_events__default_event_id_idx ON warden.audit_events__default USING brin (event_id);
CREATE INDEX audit_events_old_key ON ONLY warden.audit_events USING btree (table_id, old_key) WHERE (old_key IS NOT NULL);
CREATE INDEX audit_events__default_table_id_old_key_idx ON warden.audit_events__default USING btree (table_id, old_key) WHERE (old_key IS NOT NULL);
CREATE INDEX audit_events_row ON ONLY warden.audit_events USING btree (table_id, row_key);
CREATE INDEX audit_events__default_table_id_row_key_idx ON warden.audit_events__default USING btree (table_id, row_key);
CREATE INDEX audit_events_txid ON ONLY warden.audit_events USING btree (txid);
CREATE INDEX audit_events__default_txid_idx ON warden.audit_events__default USING btree (txid);
CREATE INDEX audit_events__history_at ON warden.audit_events__history USING brin (at);
CREATE INDEX audit_events__history_feed ON warden.audit_events__history USING brin (event_id);
CREATE INDEX audit_events__history_old_key ON warden.audit_events__history USING btree (table_id, old_key) WHERE (old_key IS NOT NULL);
CREATE INDEX audit_events__history_row ON warden.audit_events__history USING btree (table_id, row_key);
CREATE INDEX audit_events__history_txid ON warden.audit_events__history USING btree (txid);
CREATE INDEX audit_events__p202701_at_idx ON warden.audit_events__p202701 USING brin (at);
CREATE INDEX audit_events__p202701_event_id_idx ON warden.audit_events__p202701 USING brin (event_id);
CREATE INDEX audit_events__p202701_table_id_old_key_idx ON warden.audit_events__p202701 USING btree (table_id, old_key) WHERE (old_key IS NOT NULL);
CREATE INDEX audit_events__p202701_table_id_row_key_idx ON warden.audit_events__p202701 USING btree (table_id, row_key);
CREATE INDEX audit_events__p202701_txid_idx ON warden.audit_events__p202701 USING btree (txid);
CREATE INDEX audit_events__p202702_at_idx ON warden.audit_events__p202702 USING brin (at);
CREATE INDEX audit_events__p202702_event_id_idx ON warden.audit_events__p202702 USING brin (event_id);
CREATE INDEX audit_events__p202702_table_id_old_key_idx ON warden.audit_events__p202702 USING btree (table_id, old_key) WHERE (old_key IS NOT NULL);
CREATE INDEX audit_events__p202702_table_id_row_key_idx ON warden.audit_events__p202702 USING btree (table_id, row_key);
CREATE INDEX audit_events__p202702_txid_idx ON warden.audit_events__p202702 USING btree (txid);
CREATE INDEX audit_events__p202703_at_idx ON warden.audit_events__p202703 USING brin (at);
CREATE INDEX audit_events__p202703_event_id_idx ON warden.audit_events__p202703 USING brin (event_id);
CREATE INDEX audit_events__p202703_table_id_old_key_idx ON warden.audit_events__p202703 USING btree (table_id, old_key) WHERE (old_key IS NOT NULL);
CREATE INDEX audit_events__p202703_table_id_row_key_idx ON warden.audit_events__p202703 USING btree (table_id, row_key);
CREATE INDEX audit_events__p202703_txid_idx ON warden.audit_events__p202703 USING btree (txid);
CREATE INDEX audit_events_archive_at ON ONLY warden.audit_events_archive USING brin (at);
CREATE INDEX audit_events_archive__y2026_at_idx ON warden.audit_events_archive__y2026 USING brin (at);
CREATE INDEX audit_events_archive_feed ON ONLY warden.audit_events_archive USING brin (event_id);
CREATE INDEX audit_events_archive__y2026_event_id_idx ON warden.audit_events_archive__y2026 USING brin (event_id);
CREATE INDEX audit_events_archive_old_key ON ONLY warden.audit_events_archive USING btree (table_id, old_key) WHERE (old_key IS NOT NULL);
CREATE INDEX audit_events_archive__y2026_table_id_old_key_idx ON warden.audit_events_archive__y2026 USING btree (table_id, old_key) WHERE (old_key IS NOT NULL);
CREATE INDEX audit_events_archive_row ON ONLY warden.audit_events_archive USING btree (table_id, row_key);
CREATE INDEX audit_events_archive__y2026_table_id_row_key_idx ON warden.audit_events_archive__y2026 USING btree (table_id, row_key);
CREATE INDEX audit_events_archive_txid ON ONLY warden.audit_events_archive USING btree (txid);
CREATE INDEX audit_events_archive__y2026_txid_idx ON warden.audit_events_archive__y2026 USING btree (txid);
CREATE INDEX maintenance_runs_job ON warden.maintenance_runs USING btree (job, table_name, started_at DESC);
ALTER INDEX public.events_pkey ATTACH PARTITION public.events__p202612_pkey;
ALTER INDEX public.events_pkey ATTACH PARTITION public.events__p202701_pkey;
ALTER INDEX public.events_pkey ATTACH PARTITION public.events__pgw_default_pkey;
ALTER INDEX warden.audit_events_at ATTACH PARTITION warden.audit_events__default_at_idx;
ALTER INDEX warden.audit_events_feed ATTACH PARTITION warden.audit_events__default_event_id_idx;
ALTER INDEX warden.audit_events_old_key ATTACH PARTITION warden.audit_events__default_table_id_old_key_idx;
ALTER INDEX warden.audit_events_row ATTACH PARTITION warden.audit_events__default_table_id_row_key_idx;
ALTER INDEX warden.audit_events_txid ATTACH PARTITION warden.audit_events__default_txid_idx;
ALTER INDEX warden.audit_events_at ATTACH PARTITION warden.audit_events__history_at;
ALTER INDEX warden.audit_events_feed ATTACH PARTITION warden.audit_events__history_feed;
ALTER INDEX warden.audit_events_old_key ATTACH PARTITION warden.audit_events__history_old_key;
ALTER INDEX warden.audit_events_row ATTACH PARTITION warden.audit_events__history_row;
ALTER INDEX warden.audit_events_txid ATTACH PARTITION warden.audit_events__history_txid;
ALTER INDEX warden.audit_events_at ATTACH PARTITION warden.audit_events__p202701_at_idx;
ALTER INDEX warden.audit_events_feed ATTACH PARTITION warden.audit_events__p202701_event_id_idx;
ALTER INDEX warden.audit_events_old_key ATTACH PARTITION warden.audit_events__p202701_table_id_old_key_idx;
ALTER INDEX warden.audit_events_row ATTACH PARTITION warden.audit_events__p202701_table_id_row_key_idx;
ALTER INDEX warden.audit_events_txid ATTACH PARTITION warden.audit_events__p202701_txid_idx;
ALTER INDEX warden.audit_events_at ATTACH PARTITION warden.audit_events__p202702_at_idx;
ALTER INDEX warden.audit_events_feed ATTACH PARTITION warden.audit_events__p202702_event_id_idx;
ALTER INDEX warden.audit_events_old_key ATTACH PARTITION warden.audit_events__p202702_table_id_old_key_idx;
ALTER INDEX warden.audit_events_row ATTACH PARTITION warden.audit_events__p202702_table_id_row_key_idx;
ALTER INDEX warden.audit_events_txid ATTACH PARTITION warden.audit_events__p202702_txid_idx;
ALTER INDEX warden.audit_events_at ATTACH PARTITION warden.audit_events__p202703_at_idx;
ALTER INDEX warden.audit_events_feed ATTACH PARTITION warden.audit_events__p202703_event_id_idx;
ALTER INDEX warden.audit_events_old_key ATTACH PARTITION warden.audit_events__p202703_table_id_old_key_idx;
ALTER INDEX warden.audit_events_row ATTACH PARTITION warden.audit_events__p202703_table_id_row_key_idx;
ALTER INDEX warden.audit_events_txid ATTACH PARTITION warden.audit_events__p202703_txid_idx;
ALTER INDEX warden.audit_events_archive_at ATTACH PARTITION warden.audit_events_archive__y2026_at_idx;
ALTER INDEX warden.audit_events_archive_feed ATTACH PARTITION warden.audit_events_archive__y2026_event_id_idx;
ALTER INDEX warden.audit_events_archive_old_key ATTACH PARTITION warden.audit_events_archive__y2026_table_id_old_key_idx;
ALTER INDEX warden.audit_events_archive_row ATTACH PARTITION warden.audit_events_archive__y2026_table_id_row_key_idx;
ALTER INDEX warden.audit_events_archive_txid ATTACH PARTITION warden.audit_events_archive__y2026_txid_idx;
CREATE TRIGGER pgwarden_audit AFTER INSERT OR DELETE OR UPDATE ON public.events FOR EACH ROW EXECUTE FUNCTION warden.public_events__audit_rows();
CREATE TRIGGER pgwarden_audit_d AFTER DELETE ON public.accounts REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION warden.public_accounts__audit();
CREATE TRIGGER pgwarden_audit_d AFTER DELETE ON public.orders REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION warden.public_orders__audit();
CREATE TRIGGER pgwarden_audit_e AFTER UPDATE OF id ON public.notes FOR EACH STATEMENT EXECUTE FUNCTION warden.public_notes__audit();
CREATE TRIGGER pgwarden_audit_i AFTER INSERT ON public.accounts REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION warden.public_accounts__audit();
CREATE TRIGGER pgwarden_audit_i AFTER INSERT ON public.orders REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION warden.public_orders__audit();
CREATE TRIGGER pgwarden_audit_k BEFORE UPDATE OF id ON public.notes FOR EACH STATEMENT EXECUTE FUNCTION warden.public_notes__audit();
CREATE TRIGGER pgwarden_audit_s AFTER INSERT OR DELETE OR UPDATE ON public.events FOR EACH STATEMENT EXECUTE FUNCTION warden.public_events__audit_rows();
CREATE TRIGGER pgwarden_audit_s AFTER INSERT OR DELETE OR UPDATE ON public.events__default FOR EACH STATEMENT EXECUTE FUNCTION warden.public_events__audit_rows();
CREATE TRIGGER pgwarden_audit_s AFTER INSERT OR DELETE OR UPDATE ON public.events__p202612 FOR EACH STATEMENT EXECUTE FUNCTION warden.public_events__audit_rows();
CREATE TRIGGER pgwarden_audit_s AFTER INSERT OR DELETE OR UPDATE ON public.events__p202701 FOR EACH STATEMENT EXECUTE FUNCTION warden.public_events__audit_rows();
CREATE TRIGGER pgwarden_audit_t BEFORE TRUNCATE ON public.accounts FOR EACH STATEMENT EXECUTE FUNCTION warden.public_accounts__audit();
CREATE TRIGGER pgwarden_audit_t BEFORE TRUNCATE ON public.events FOR EACH STATEMENT EXECUTE FUNCTION warden.public_events__audit();
CREATE TRIGGER pgwarden_audit_t BEFORE TRUNCATE ON public.events__default FOR EACH STATEMENT EXECUTE FUNCTION warden.public_events__audit();
CREATE TRIGGER pgwarden_audit_t BEFORE TRUNCATE ON public.events__p202612 FOR EACH STATEMENT EXECUTE FUNCTION warden.public_events__audit();
CREATE TRIGGER pgwarden_audit_t BEFORE TRUNCATE ON public.events__p202701 FOR EACH STATEMENT EXECUTE FUNCTION warden.public_events__audit();
CREATE TRIGGER pgwarden_audit_t BEFORE TRUNCATE ON public.notes FOR EACH STATEMENT EXECUTE FUNCTION warden.public_notes__audit();
CREATE TRIGGER pgwarden_audit_t BEFORE TRUNCATE ON public.orders FOR EACH STATEMENT EXECUTE FUNCTION warden.public_orders__audit();
CREATE TRIGGER pgwarden_audit_u AFTER UPDATE ON public.accounts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION warden.public_accounts__audit();
CREATE TRIGGER pgwarden_audit_u AFTER UPDATE ON public.orders REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION warden.public_orders__audit();
CREATE TRIGGER pgwarden_audit_w BEFORE INSERT OR DELETE OR UPDATE ON public.notes FOR EACH STATEMENT EXECUTE FUNCTION warden.audit_wal_statement();
CREATE TRIGGER pgwarden_soft_delete BEFORE DELETE ON public.accounts FOR EACH ROW EXECUTE FUNCTION warden.public_accounts__soft_delete();
CREATE TRIGGER pgwarden_soft_delete INSTEAD OF DELETE ON public.accounts__live FOR EACH ROW EXECUTE FUNCTION warden.public_accounts__live_delete();
CREATE TRIGGER pgwarden_soft_delete_state BEFORE UPDATE ON public.accounts FOR EACH ROW WHEN ((((old.deleted_at IS DISTINCT FROM new.deleted_at) OR (old.deletion_id IS DISTINCT FROM new.deletion_id) OR (old.deleted_by IS DISTINCT FROM new.deleted_by)) AND (NOT ((new.deleted_at IS NULL) AND (new.deletion_id IS NULL) AND (new.deleted_by IS NULL))) AND (NOT ((old.deleted_at IS NULL) AND (new.deleted_at IS NOT NULL) AND (new.deletion_id IS NOT NULL) AND (new.deleted_by IS NOT NULL))) AND (NOT ((old.deleted_at IS NOT NULL) AND (new.deleted_at IS NOT NULL) AND (NOT (new.deletion_id IS DISTINCT FROM old.deletion_id)) AND (NOT (new.deleted_by IS DISTINCT FROM old.deleted_by)))))) EXECUTE FUNCTION warden.public_accounts__soft_delete_state();
CREATE TRIGGER pgwarden_soft_delete_truncate BEFORE TRUNCATE ON public.accounts FOR EACH STATEMENT EXECUTE FUNCTION warden.public_accounts__soft_delete_truncate();
CREATE PUBLICATION pgwarden_audit WITH (publish = 'insert, update, delete', publish_via_partition_root = true);
ALTER PUBLICATION pgwarden_audit ADD TABLE ONLY public.notes;
GRANT USAGE ON SCHEMA warden_wal TO PUBLIC;
REVOKE ALL ON FUNCTION warden.allow_hard_delete() FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.as_of(p_row anyelement, p_at timestamp with time zone) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_current_row(p_table text, p_key jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_expired_partitions(p_now timestamp with time zone) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_facts(p_table_id integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_facts(p_table_id integer, p_key jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_first_after(p_table_id integer, p_at timestamp with time zone) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_first_after_at(p_table_id integer, p_at timestamp with time zone) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_first_after_sql() FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_hidden_names(p_table_id integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_key(p_table text, p_parts text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_key_match_sql(p_table_id integer, p_key text, p_live text) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_key_names(p_table_id integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_key_sql(p_table_id integer, p_alias text) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_live_key(p_rel oid, p_image jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_moves(p_table_id integer, p_at timestamp with time zone) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_prune(p_batch integer, p_now timestamp with time zone) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_record_columns(p_relids oid[], p_first timestamp with time zone) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_redact(p_row jsonb, p_columns text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_rename_image(p_image jsonb, p_moves jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_rename_spans(p_table_id integer, p_at timestamp with time zone) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_rename_sql(p_table_id integer, p_at timestamp with time zone, p_image text, p_at_expr text) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_renamed_after(p_table_id integer, p_at timestamp with time zone) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_slot_name() FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_state_at(p_table_id integer, p_at timestamp with time zone, p_key jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_table_id(p_table text) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_track_columns() FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.audit_wal_signed(p_payload text) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.changes_after(p_after_txid xid8, p_after_event bigint, p_limit integer, p_table_id integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.feed_horizon() FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.hard_delete_allowed() FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.history(p_table text, p_key jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.put_row(p_rel regclass, p_key jsonb, p_present boolean, p_image jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.revert_transaction(p_txid xid8) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.row_as_of(p_row anyelement, p_key jsonb, p_at timestamp with time zone) FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.running_horizon() FROM PUBLIC;
REVOKE ALL ON FUNCTION warden.versions(p_table_id integer) FROM PUBLIC;
CREATE EVENT TRIGGER pgwarden_audit_columns ON ddl_command_end
         WHEN TAG IN ('ALTER TABLE')
   EXECUTE FUNCTION warden.audit_track_columns();
CREATE EVENT TRIGGER pgwarden_audit_partitions ON ddl_command_end
         WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
   EXECUTE FUNCTION warden.audit_adopt_partitions();
