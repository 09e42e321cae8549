-- function warden.audit_erase(text,jsonb,text[])
-- Erases columns p_columns (NULL: every column but the key) of the row at key p_key of table
-- p_table from the audit history: from every image of its events, hot and archived, under
-- every key the row had (key moves followed both ways) and every name the columns had
-- (renames followed by attribute number), and from the table's checkpoints. Records the
-- erasure (never the values) in warden.audit_erasures and returns that record. Reads of the history then show those columns as unknown (NULL).
-- The live row is the caller's: delete or update it as the application does. SECURITY
-- DEFINER: only the store's owner may rewrite it; EXECUTE is the admin role's alone.
CREATE OR REPLACE FUNCTION warden.audit_erase(p_table text, p_key jsonb, p_columns text[]) RETURNS TABLE(erasure_id bigint, row_keys jsonb, columns text[], events bigint, checkpoint_rows bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
#variable_conflict use_column
declare
    tid int := warden.audit_table_id(p_table);
    key_names text[] := warden.audit_key_names(tid);
    shown text := (select t.schema_name || '.' || t.table_name from warden.audit_tables t
                    where t.table_id = tid);
    keys jsonb[];
    frontier jsonb[];
    store text;
    key_column text;
    attnums smallint[];
    names text[];
    key_attnums smallint[];
    wanted text;
    cp record;
    n bigint;
    rewritten bigint := 0;
    cp_rows bigint := 0;
begin
    if (select t.key_attnums is null from warden.audit_tables t where t.table_id = tid) then
        raise exception 'pgwarden: % has no key: its rows are known by their whole content, '
                        'which an erasure would change', shown
            using errcode = 'feature_not_supported';
    end if;
    if p_key is null or jsonb_typeof(p_key) <> 'array' then
        raise exception 'pgwarden: the key of a row of % is a JSON array of its key values',
            shown using errcode = 'invalid_parameter_value';
    end if;
    -- Every key the row had: moves recorded as (old_key -> row_key), followed both ways,
    -- each step by the store's key indexes (a join on either key would read it whole).
    keys := array[p_key];
    frontier := keys;
    while cardinality(frontier) > 0 loop
        frontier := array(
            select e.old_key from warden.audit_events_all e
             where e.table_id = tid and e.row_key = any (frontier) and e.old_key is not null
            union
            select e.row_key from warden.audit_events_all e
             where e.table_id = tid and e.old_key = any (frontier)
            except
            select unnest(keys));
        keys := keys || frontier;
    end loop;
    keys := array(select k from unnest(keys) k order by k);
    -- The columns, by attribute number over the table's history of names.
    if p_columns is null then
        select array_agg(distinct c.attnum) into attnums
          from warden.audit_columns c
         where c.table_id = tid and c.name is not null and c.name <> all (key_names);
    else
        foreach wanted in array p_columns loop
            if wanted = any (key_names) then
                raise exception 'pgwarden: % is a key column of %: the history is found by its key',
                    wanted, shown
                    using errcode = 'invalid_parameter_value',
                          hint = 'erase the other columns; the key stays as the row''s name';
            end if;
            if not exists (select 1 from warden.audit_columns c
                            where c.table_id = tid and c.name = wanted) then
                raise exception 'pgwarden: % has no column %', shown, wanted
                    using errcode = 'undefined_column';
            end if;
        end loop;
        select array_agg(distinct c.attnum) into attnums
          from warden.audit_columns c
         where c.table_id = tid and c.name = any (p_columns);
    end if;
    select coalesce(array_agg(distinct c.name), '{}') into names
      from warden.audit_columns c
     where c.table_id = tid and c.attnum = any (attnums) and c.name is not null;
    -- Each store by row_key, then by old_key (events whose key moved away from the row's),
    -- one statement each so that each is served by its index on (table_id, key): an OR of
    -- the two would read every event of the table.
    for store, key_column in
        select s, k from unnest(array['audit_events', 'audit_events_archive']) s,
                         unnest(array['row_key', 'old_key']) k
    loop
        execute format(
            'update warden.%I e set old_row = e.old_row - $1, new_row = e.new_row - $1'
            ' where e.table_id = $2 and e.%I is not null and e.%I = any ($3)'
            ' and (%L = ''row_key'' or e.row_key <> all ($3))'
            ' and (e.old_row ?| $1 or e.new_row ?| $1)', store, key_column, key_column, key_column)
           using names, tid, keys;
        get diagnostics n = row_count;
        rewritten := rewritten + n;
    end loop;
    -- Checkpoints hold one column a<attnum> per column: the row's erased ones set to NULL.
    select t.key_attnums into key_attnums from warden.audit_tables t where t.table_id = tid;
    for cp in
        select c.checkpoint_id,
               format('warden.%I', 'audit_checkpoint__' || c.checkpoint_id)::regclass as rel
          from warden.audit_checkpoints c
         where c.table_id = tid
           and to_regclass(format('warden.%I', 'audit_checkpoint__' || c.checkpoint_id)) is not null
    loop
        select string_agg(format('%I = null', 'a' || a.attnum), ', ')
          into wanted
          from pg_attribute a
         where a.attrelid = cp.rel and a.attnum > 0 and not a.attisdropped
           and a.attname = any (select 'a' || x from unnest(attnums) x);
        continue when wanted is null or key_attnums is null;
        execute format('update %s set %s where jsonb_build_array(%s) = any ($1)',
                       cp.rel, wanted,
                       (select string_agg(format('%I', 'a' || k), ', ' order by o)
                          from unnest(key_attnums) with ordinality u(k, o)))
           using keys;
        get diagnostics n = row_count;
        cp_rows := cp_rows + n;
    end loop;
    return query
        insert into warden.audit_erasures as r (table_id, row_keys, columns, events,
                                                checkpoint_rows)
        values (tid, to_jsonb(keys), names, rewritten, cp_rows)
        returning r.erasure_id, r.row_keys, r.columns, r.events, r.checkpoint_rows;
end
$$;
REVOKE ALL ON FUNCTION warden.audit_erase(p_table text, p_key jsonb, p_columns text[]) FROM PUBLIC;
