-- Reverting a whole transaction, and reading the audit log as an ordered, resumable feed.

-- Undo every change transaction p_txid made, newest first, in the caller's transaction.
-- Refuses (and changes nothing) when a row it touched is no longer as it left it: reverting
-- would silently overwrite a later change. (After the later change is itself reverted, the
-- row is as this transaction left it again, and the revert goes through.)
create function warden.revert_transaction(p_txid xid8)
returns table (table_name text, row_key jsonb, action text)
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    ev record;
    st record;
    current_row jsonb;
    rel regclass;
begin
    if not exists (select 1 from warden.audit_events e where e.txid = p_txid) then
        raise exception 'pgwarden: transaction % changed no audited row', p_txid
            using errcode = 'no_data_found';
    end if;
    if exists (select 1 from warden.audit_events e where e.txid = p_txid and e.op = 'T') then
        raise exception 'pgwarden: cannot revert transaction %: it truncated a table', p_txid;
    end if;
    for st in
        with facts as (
            select e.table_id, x.k, e.statement_id, x.phase, e.event_id, x.present, x.image
              from warden.audit_events e
             cross join lateral (values
                (e.row_key, 1, e.op <> 'D', case when e.op <> 'D' then e.new_row end),
                (e.old_key, 0, false, null::jsonb)) x(k, phase, present, image)
             where e.txid = p_txid and x.k is not null
        )
        select distinct on (f.table_id, f.k) f.k, f.present, f.image, t.relid,
               warden.audit_hidden_names(t.table_id) as hidden_columns,
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
        select e.*, t.relid
          from warden.audit_events e
          join warden.audit_tables t on t.table_id = e.table_id
         where e.txid = p_txid
         order by e.statement_id desc, e.event_id desc
    loop
        rel := ev.relid::regclass;
        if ev.op = 'I' then
            perform warden.put_row(rel, ev.row_key, false, null);
            table_name := rel::text; row_key := ev.row_key; action := 'deleted';
        elsif ev.op = 'D' then
            perform warden.put_row(rel, ev.row_key, true, ev.old_row);
            table_name := rel::text; row_key := ev.row_key; action := 'restored';
        elsif ev.old_key is null then
            perform warden.put_row(rel, ev.row_key, true, ev.new_row || ev.old_row);
            table_name := rel::text; row_key := ev.row_key; action := 'updated back';
        else
            -- The row moved from old_key to row_key: move it back.
            perform warden.put_row(rel, ev.row_key, true, ev.new_row || ev.old_row);
            table_name := rel::text; row_key := ev.old_key; action := 'moved back';
        end if;
        return next;
    end loop;
end
$$;

-- The feed's horizon: the oldest transaction that may still add events to this database.
-- Transactions of other databases (matched through pg_stat_activity / pg_prepared_xacts)
-- cannot write here and do not hold the feed back; anything unknown is assumed to.
create function warden.feed_horizon() returns xid8
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select coalesce(
        (select min(x) from pg_snapshot_xip(snap.s) x
          where not exists (
                select 1 from pg_stat_activity a
                 where a.datname is distinct from current_database()
                   and a.backend_xid is not null
                   and a.backend_xid::text::bigint = x::text::bigint % 4294967296)
            and not exists (
                select 1 from pg_prepared_xacts p
                 where p.database <> current_database()
                   and p.transaction::text::bigint = x::text::bigint % 4294967296)),
        pg_snapshot_xmax(snap.s))
      from (select pg_current_snapshot() as s) snap
$$;

-- Up to p_limit events after position (p_after_txid, p_after_event), in feed order:
-- by transaction id, then event id, and only from transactions older than every transaction
-- still running in this database (warden.feed_horizon). Transactions can commit in a
-- different order than their ids; holding back
-- everything at or above the oldest running one means a reader never skips an event that
-- commits late, and a resumed reader continues exactly where it stopped.
create function warden.changes_after(
    p_after_txid xid8, p_after_event bigint, p_limit int default 1000, p_table_id int default null
)
returns table (
    event_id bigint, txid xid8, at timestamptz, table_name text, op "char", row_key jsonb,
    old_key jsonb, old_row jsonb, new_row jsonb, actor text, tenant text, reason text,
    request_id text
)
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select e.event_id, e.txid, e.at, t.schema_name || '.' || t.table_name, e.op, e.row_key,
           e.old_key, e.old_row, e.new_row, c.actor, c.tenant, c.reason, c.request_id
      from warden.audit_events e
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

-- The live row at p_key, as jsonb (NULL when there is none, or the table is gone).
create function warden.audit_current_row(p_table text, p_key jsonb) returns jsonb
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
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
$$;

-- A key as the capture records it, from text parts ('42', '2026-01-01'): each part is cast
-- to its key column's type first, so the jsonb matches exactly (42, not "42").
create function warden.audit_key(p_table text, p_parts text[]) returns jsonb
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
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
$$;

revoke all on all functions in schema warden from public;
