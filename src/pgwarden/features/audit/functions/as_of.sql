-- function warden.as_of(anyelement,timestamp with time zone)
-- The whole table as it was at p_at, rows of its current type (null::schema.table): each
-- row's state at that time from the store (hot and archive), images translated to the current
-- column names when a rename came later, generated columns computed. Its query runs with
-- work_mem at least 32MB (the caller's, when larger), set back after it.
-- jit off: enable_nestloop off prices plans past jit_above_cost, and the JIT compile then
-- took 3-10 s per call even for a table of 2 rows (PostgreSQL 15 with LLVM).
CREATE OR REPLACE FUNCTION warden.as_of(p_row anyelement, p_at timestamp with time zone) RETURNS SETOF anyelement
    LANGUAGE plpgsql STABLE
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
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
    image := coalesce(warden.audit_generated_sql(tid, image, true),
                      format('jsonb_populate_record($3, %s)', image));
    if pg_size_bytes(callers_work_mem) < pg_size_bytes('32MB') then
        perform set_config('work_mem', '32MB', true);
    end if;
    return query execute format(
        $q$ with %s
            select r.* from s cross join lateral %s r
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
REVOKE ALL ON FUNCTION warden.as_of(p_row anyelement, p_at timestamp with time zone) FROM PUBLIC;
