-- function warden.audit_checkpoint_finish(bigint)
-- Completes a checkpoint of a table captured from the WAL once every transaction visible in
-- its snapshot is ingested (warden.feed_horizon): transactions committed before it was taken
-- but ingested later changed live rows it read without their events to go back by. The rows
-- of every key such a transaction touched after the checkpoint's time are put back as they
-- were before their first change after it. true: complete; false: not yet (ingest first);
-- NULL: it cannot be completed (its table's columns changed): drop it.
CREATE OR REPLACE FUNCTION warden.audit_checkpoint_finish(p_checkpoint_id bigint) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    AS $_$
declare
    ck warden.audit_checkpoints;
    rel regclass;
    name text;
    image text := 's.row_data';
    key text;
    cols text;
    n bigint;
begin
    select * into ck from warden.audit_checkpoints where checkpoint_id = p_checkpoint_id
       for update;
    if not found or ck.complete then
        return found;
    end if;
    if warden.feed_horizon() < pg_snapshot_xmax(ck.snapshot) then
        return false;
    end if;
    rel := ck.relid::regclass;
    name := 'audit_checkpoint__' || p_checkpoint_id;
    if warden.audit_checkpoint_source(p_checkpoint_id, rel) is null then
        return null;
    end if;
    select 'jsonb_build_array(' || string_agg(format('k.%I', 'a' || u.attnum), ', ' order by u.o) || ')'
      into key
      from warden.audit_tables t, unnest(t.key_attnums) with ordinality u(attnum, o)
     where t.table_id = ck.table_id;
    -- Each column of the checkpoint from the image's column of the same attribute number.
    select string_agg(coalesce(format('r.%I', a.attname), 'null'), ', ' order by k.attnum)
      into cols
      from pg_attribute k
      left join pg_attribute a on a.attrelid = rel and 'a' || a.attnum = k.attname
                              and not a.attisdropped
     where k.attrelid = format('warden.%I', name)::regclass and k.attnum > 0
       and not k.attisdropped;
    if warden.audit_renamed_after(ck.table_id, ck.at) then
        image := coalesce(warden.audit_rename_sql(ck.table_id, ck.at, 's.row_data', 's.at'), image);
    end if;
    execute format(
        $q$ with %s,
            fix as materialized (
                select distinct x.k from warden.audit_events_all e
                 cross join lateral (values (e.row_key), (e.old_key)) x(k)
                 where e.table_id = $1 and e.at > $2 and x.k is not null
                   and pg_visible_in_snapshot(e.txid, $5)),
            gone as (delete from warden.%I k where %s in (select f.k from fix f))
            insert into warden.%I
            select %s from s cross join lateral jsonb_populate_record(null::%s, %s) r
             where s.present and s.row_key in (select f.k from fix f) $q$,
        warden.audit_first_after_sql(), name, key, name, cols, rel, image)
    using ck.table_id, ck.at, null::int, 'infinity'::timestamptz, ck.snapshot;
    execute format('select count(*) from warden.%I', name) into n;
    update warden.audit_checkpoints
       set complete = true, rows = n,
           bytes = pg_total_relation_size(format('warden.%I', name)::regclass)
     where checkpoint_id = p_checkpoint_id;
    return true;
end
$_$;
REVOKE ALL ON FUNCTION warden.audit_checkpoint_finish(p_checkpoint_id bigint) FROM PUBLIC;
