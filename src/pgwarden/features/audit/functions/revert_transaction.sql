-- function warden.revert_transaction(xid8)
-- Undoes transaction p_txid, row by row (returns table, key and what was done), refusing
-- when it truncated a table, a table is gone or a row changed since. The transaction's images
-- are taken in the current names (generated columns computed): both for that check and for
-- putting the rows back.
CREATE OR REPLACE FUNCTION warden.revert_transaction(p_txid xid8) RETURNS TABLE(table_name text, row_key jsonb, action text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    ev record;
    st record;
    current_row jsonb;
    rel regclass;
    image jsonb;
    todo bigint[];
    waiting bigint[];
    keys jsonb[];
    blocked jsonb[];
    refusal text;
    refusal_hint text;
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
               warden.audit_generated(
                   warden.audit_rename_image(f.image, warden.audit_moves(f.table_id, f.at)),
                   warden.audit_generated_sql(f.table_id, '$1', false)) as image,
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
    -- Newest change first. A row that a key or a soft-delete check refuses to put back yet
    -- (its parent comes back later in that order: from the WAL, a soft delete's cascade
    -- follows its parent's row) waits, with every older change of its keys, for the next
    -- pass; a pass that puts nothing back raises the first refusal.
    todo := array(select e.event_id from warden.audit_events_all e where e.txid = p_txid
                   order by e.statement_id desc, e.event_id desc);
    while cardinality(todo) > 0 loop
        waiting := '{}';
        blocked := '{}';
        refusal := null;
        for ev in
            select e.*, t.relid, warden.audit_moves(t.table_id, e.at) as moves
              from unnest(todo) with ordinality u(id, n)
              join warden.audit_events_all e on e.event_id = u.id and e.txid = p_txid
              join warden.audit_tables t on t.table_id = e.table_id
             order by u.n
        loop
            keys := array(select jsonb_build_array(ev.table_id, k)
                            from unnest(array[ev.row_key, ev.old_key]) k where k is not null);
            if keys && blocked then
                waiting := waiting || ev.event_id;
                continue;
            end if;
            begin
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
            exception when foreign_key_violation then
                if refusal is null then
                    get stacked diagnostics refusal = message_text, refusal_hint = pg_exception_hint;
                end if;
                waiting := waiting || ev.event_id;
                blocked := blocked || keys;
                continue;
            end;
            return next;
        end loop;
        if cardinality(waiting) = cardinality(todo) then
            raise exception using errcode = 'foreign_key_violation', message = refusal,
                                  hint = coalesce(refusal_hint, '');
        end if;
        todo := waiting;
    end loop;
end
$$;
REVOKE ALL ON FUNCTION warden.revert_transaction(p_txid xid8) FROM PUBLIC;
