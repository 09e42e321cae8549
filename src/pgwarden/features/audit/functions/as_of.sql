-- function warden.as_of(anyelement,timestamp with time zone)
-- The whole table as it was at p_at, rows of its current type (null::schema.table): each
-- row's state at that time from the store (hot and archive), images translated to the current
-- column names when a rename came later, generated columns computed (audit_as_of_sql).
-- Where complete checkpoints serve it, from the one
-- with the fewest changes between it and p_at: the first after p_at, going back by the
-- changes in between, or the last before it, going forward (not across a TRUNCATE); else
-- from the live table, going back by every change since p_at. Its query runs with work_mem
-- at least 32MB (the caller's, when larger), set back after it. jit off: enable_nestloop off
-- prices plans past jit_above_cost, and the JIT compile then took 3-10 s per call even for a
-- table of 2 rows (PostgreSQL 15 with LLVM).
CREATE OR REPLACE FUNCTION warden.as_of(p_row anyelement, p_at timestamp with time zone) RETURNS SETOF anyelement
    LANGUAGE plpgsql STABLE
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    rel regclass := (select t.typrelid from pg_type t where t.oid = pg_typeof(p_row))::regclass;
    tid int;
    source text;
    upto timestamptz;
    since timestamptz;
    earlier text;
    changes bigint;
    truncated boolean;
    callers_work_mem text := current_setting('work_mem');
begin
    if rel is null then
        raise exception 'pgwarden: as_of needs a row type, e.g. null::public.entries';
    end if;
    tid := warden.audit_table_id(rel::text);
    -- Checkpoints are copies of whole tables, read past row-level security: only for a
    -- caller who can read them and on whom no policy of the table applies (tenancy); any
    -- other caller gets the events path, which the audit store's policies filter.
    if has_table_privilege('warden.audit_checkpoints', 'select')
       and not row_security_active(rel) then
    select c.at, warden.audit_checkpoint_source(c.checkpoint_id, rel) into upto, source
      from warden.audit_checkpoints c
     where c.table_id = tid and c.relid = rel and c.complete and c.at > p_at
       and warden.audit_checkpoint_source(c.checkpoint_id, rel) is not null
     order by c.at limit 1;
    if source is null then
        upto := 'infinity';
        source := format('%s c', rel);
    end if;
    select c.at, warden.audit_checkpoint_source(c.checkpoint_id, rel) into since, earlier
      from warden.audit_checkpoints c
     where c.table_id = tid and c.relid = rel and c.complete and c.at <= p_at
       and warden.audit_checkpoint_source(c.checkpoint_id, rel) is not null
     order by c.at desc limit 1;
    if earlier is not null and (
            select count(*) from (select 1 from warden.audit_events_all e
                                   where e.table_id = tid and e.at > p_at and e.at <= upto
                                   limit 1000) x) = 1000 then
        -- Counted, not read: going forward wins when fewer changes lie on its side.
        select count(*), coalesce(bool_or(x.op = 'T'), false) into changes, truncated
          from (select e.op from warden.audit_events_all e
                 where e.table_id = tid and e.at > since and e.at <= p_at
                 limit 10000000) x;
        if not truncated and changes < (
                select count(*) from (select 1 from warden.audit_events_all e
                                       where e.table_id = tid and e.at > p_at and e.at <= upto
                                       limit changes + 1) x) then
            source := earlier;
            upto := since;
        else
            since := null;
        end if;
    else
        since := null;
    end if;
    end if;
    if source is null then
        upto := 'infinity';
        source := format('%s c', rel);
    end if;
    if pg_size_bytes(callers_work_mem) < pg_size_bytes('32MB') then
        perform set_config('work_mem', '32MB', true);
    end if;
    begin
        return query execute warden.audit_as_of_sql(tid, p_at, '$3', source, 'c.*', since)
        using tid, p_at, p_row, upto;
    exception when undefined_table then
        -- The checkpoint was dropped by maintenance since it was chosen: the live table.
        return query execute warden.audit_as_of_sql(tid, p_at, '$3', format('%s c', rel), 'c.*')
        using tid, p_at, p_row, 'infinity'::timestamptz;
    end;
    perform set_config('work_mem', callers_work_mem, true);
end
$_$;
REVOKE ALL ON FUNCTION warden.as_of(p_row anyelement, p_at timestamp with time zone) FROM PUBLIC;
