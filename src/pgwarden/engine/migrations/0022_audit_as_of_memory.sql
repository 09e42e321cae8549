-- Time travel of a whole table (warden.as_of) with at least 32 MB of work_mem for its query.
-- At the default 4 MB, its hash joins split into batches written to disk (the images side
-- is the wide one) and its sort spills. Measured on a pgbench-like store (1M rows, 600k
-- changes after the time asked): 1.53 -> 1.43 s (medians of 8 calls each, alternating). 64 MB
-- was slower again (larger allocations).
-- The caller's own work_mem is kept when it is larger, and restored once the query is done
-- (set_config is local to the transaction; a failure rolls it back with the rest).

-- As in 0019, with the work_mem floor around its query.
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
$$;
