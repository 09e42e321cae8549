-- function warden.audit_checkpoint_take(integer,timestamp with time zone)
-- Takes a checkpoint of a live audited table: its state at p_at (backward from the live
-- table, as as_of computes it) in warden.audit_checkpoint__<id>, one column a<attnum> per
-- column, excluded columns NULL and redacted ones hashed, as every recorded image has them.
-- The caller runs it in a REPEATABLE READ transaction (the rows and the recorded snapshot
-- must be one), with p_at earlier than every transaction still running when it was chosen.
-- A table captured from the WAL stays incomplete until audit_checkpoint_finish.
CREATE OR REPLACE FUNCTION warden.audit_checkpoint_take(p_table_id integer, p_at timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_nestloop TO 'off'
    SET jit TO 'off'
    SET work_mem TO '64MB'
    AS $_$
declare
    t warden.audit_tables;
    rel regclass;
    id bigint;
    name text;
    image text := 'to_jsonb(c.*)';
    live text;
    n bigint;
begin
    select * into strict t from warden.audit_tables where table_id = p_table_id;
    rel := to_regclass(format('%I.%I', t.schema_name, t.table_name));
    if rel is null or rel::oid is distinct from t.relid then
        raise exception 'pgwarden: % is not a live audited table', p_table_id;
    end if;
    insert into warden.audit_checkpoints (table_id, relid, at, snapshot, complete)
    values (p_table_id, rel, p_at, pg_current_snapshot(), t.capture = 'trigger')
    returning checkpoint_id into id;
    name := 'audit_checkpoint__' || id;
    execute format('create table warden.%I (%s)', name,
                   (select string_agg(format('%I %s', 'a' || a.attnum,
                                             format_type(a.atttypid, a.atttypmod)),
                                      ', ' order by a.attnum)
                      from pg_attribute a
                     where a.attrelid = rel and a.attnum > 0 and not a.attisdropped));
    -- Live rows as capture records them (warden.audit_redact and "-" as in _sql.image_of).
    if t.excluded <> '{}' then
        image := format('(%s - %L::text[])', image, t.excluded);
    end if;
    if t.redacted <> '{}' then
        image := format('warden.audit_redact(%s, %L::text[])', image, t.redacted);
    end if;
    live := format('%s c', rel);
    if image <> 'to_jsonb(c.*)' then
        live := format('%s cross join lateral jsonb_populate_record(null::%s, %s) h', live, rel, image);
    end if;
    execute format('insert into warden.%I %s', name,
                   warden.audit_as_of_sql(p_table_id, p_at, format('null::%s', rel), live,
                                          case when image = 'to_jsonb(c.*)' then 'c.*' else 'h.*' end))
    using p_table_id, p_at, null::int, 'infinity'::timestamptz;
    get diagnostics n = row_count;
    update warden.audit_checkpoints
       set rows = n, bytes = pg_total_relation_size(format('warden.%I', name)::regclass)
     where checkpoint_id = id;
    return id;
end
$_$;
REVOKE ALL ON FUNCTION warden.audit_checkpoint_take(p_table_id integer, p_at timestamp with time zone) FROM PUBLIC;
