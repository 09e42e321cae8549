-- Reverting a whole transaction, and reading the audit log as an ordered, resumable feed.

-- Undo every change transaction p_txid made, newest first, in the caller's transaction.
-- Refuses (and changes nothing) when a later transaction changed one of the same rows.
create function warden.revert_transaction(p_txid xid8)
returns table (table_name text, row_key jsonb, action text)
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    ev record;
    conflict record;
    rel regclass;
    undone int := 0;
begin
    if not exists (select 1 from warden.audit_events e where e.txid = p_txid) then
        raise exception 'pgwarden: transaction % changed no audited row', p_txid
            using errcode = 'no_data_found';
    end if;
    -- A later change to a row this transaction touched would be silently overwritten.
    select t.schema_name || '.' || t.table_name as tbl, later.row_key, later.txid
      into conflict
      from warden.audit_events e
      join warden.audit_tables t on t.table_id = e.table_id
      join warden.audit_events later
        on later.table_id = e.table_id and later.statement_id > e.statement_id
       and (later.row_key in (e.row_key, e.old_key) or later.old_key in (e.row_key, e.old_key))
       and later.txid <> p_txid
     where e.txid = p_txid
     limit 1;
    if found then
        raise exception 'pgwarden: cannot revert transaction %: row % of % was changed later by transaction %',
            p_txid, conflict.row_key, conflict.tbl, conflict.txid
            using errcode = 'serialization_failure',
                  hint = 'revert the later transaction first, or revert the row to a time instead';
    end if;
    if exists (select 1 from warden.audit_events e where e.txid = p_txid and e.op = 'T') then
        raise exception 'pgwarden: cannot revert transaction %: it truncated a table', p_txid;
    end if;
    for ev in
        select e.*, t.relid
          from warden.audit_events e
          join warden.audit_tables t on t.table_id = e.table_id
         where e.txid = p_txid
         order by e.statement_id desc, e.event_id desc
    loop
        if ev.relid is null then
            raise exception 'pgwarden: cannot revert transaction %: table % no longer exists',
                p_txid, ev.table_id;
        end if;
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

-- Up to p_limit events after position (p_after_txid, p_after_event), in feed order:
-- by transaction id, then event id, and only from transactions older than every transaction
-- still running. Transactions can commit in a different order than their ids; holding back
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
       and e.txid < pg_snapshot_xmin(pg_current_snapshot())
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
    -- key_types come from format_type() at registration: type names, not user input.
    execute 'select jsonb_build_array(' || (
        select string_agg(format('$1[%s]::%s', i, t.key_types[i]), ', ' order by i)
          from generate_subscripts(t.key_columns, 1) i) || ')'
       into result using p_parts;
    return result;
end
$$;

revoke all on all functions in schema warden from public;
