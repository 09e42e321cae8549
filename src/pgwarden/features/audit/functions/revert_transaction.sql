-- function warden.revert_transaction(xid8)
-- Undoes transaction p_txid, row by row (returns table, key and what was done), refusing
-- when it truncated a table, a table is gone or a row changed since. The transaction's images
-- are taken in the current names (generated columns computed): both for that check and for
-- putting the rows back. A bulk transaction of one table is put back by one statement per
-- kind of change when it can be (see the fast path below).
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
    left_image jsonb;
    todo bigint[];
    waiting bigint[];
    keys jsonb[];
    blocked jsonb[];
    needs jsonb[];  -- rows the waiting changes' images reference
    holds jsonb[];  -- rows the waiting changes' rows reference with ON DELETE CASCADE
    takes jsonb[];
    must_wait boolean;
    restart boolean;
    done int;
    done_at_wait int;
    may_hard_delete boolean;
    hard boolean;
    prior text;
    refusal text;
    refusal_hint text;
    refusal_state text;
    tid int;
    hidden text[];
    match text;
    cols text;
    col_values text;
begin
    if not exists (select 1 from warden.audit_events_all e where e.txid = p_txid) then
        raise exception 'pgwarden: transaction % changed no audited row', p_txid
            using errcode = 'no_data_found';
    end if;
    if exists (select 1 from warden.audit_events_all e where e.txid = p_txid and e.op = 'T') then
        raise exception 'pgwarden: cannot revert transaction %: it truncated a table', p_txid;
    end if;
    -- The fast path, for the bulk transaction of one table: every row changed by one kind of
    -- change (inserted, updated or deleted), or, when a key moved, every key in one change
    -- only; no insert undone on a soft-delete table, no column renamed since, no generated
    -- column, every image of a kind holding the same columns. Checked at once, as below (a
    -- row changed since refuses the revert), then put back by one DELETE, one UPDATE (keys
    -- moved back too) and one INSERT, each row to the image the row-by-row path would give
    -- it. A unique value or a reference that only the row-by-row order can satisfy rolls
    -- that back and leaves the work to it, as if never tried.
    select min(e.table_id) into tid from warden.audit_events_all e where e.txid = p_txid
    having count(distinct e.table_id) = 1;
    if tid is not null
       and (not exists (select 1 from warden.audit_events_all e
                         where e.txid = p_txid and e.old_key is not null)
            and not exists (select 1 from warden.audit_events_all e where e.txid = p_txid
                             group by e.row_key having count(distinct e.op) > 1)
            or not exists (select 1 from warden.audit_events_all e
                            cross join lateral (values (e.row_key), (e.old_key)) x(k)
                            where e.txid = p_txid and x.k is not null
                            group by x.k having count(*) > 1))
       and not exists (select 1 from warden.audit_events_all e
                        where e.txid = p_txid and e.op <> 'I' group by e.op
                       having count(distinct array(select jsonb_object_keys(
                                  case e.op when 'U' then e.new_row || e.old_row
                                            else e.old_row end) order by 1)) > 1)
       and warden.audit_generated_sql(tid, '$1', false) is null
       and warden.audit_moves(tid, (select min(e.at) from warden.audit_events_all e
                                     where e.txid = p_txid)) is null
    then
        select t.relid::regclass, warden.audit_hidden_names(t.table_id),
               warden.audit_key_match_sql(t.table_id, 'f.k', 'c')
          into rel, hidden, match
          from warden.audit_tables t
         where t.table_id = tid and exists (select 1 from pg_class c where c.oid = t.relid);
        if rel is null then
            raise exception 'pgwarden: cannot revert transaction %: table % no longer exists',
                p_txid, (select t.schema_name || '.' || t.table_name from warden.audit_tables t
                          where t.table_id = tid);
        end if;
        if not exists (select 1 from warden.audit_events_all e where e.txid = p_txid
                        and e.op = 'I')
           or not exists (select 1 from pg_trigger g
                           where g.tgrelid = rel and g.tgname = 'pgwarden_soft_delete'
                             and g.tgenabled <> 'D')
        then
            -- The row each key holds now against how the transaction left it.
            execute format(
                'select f.k from (select distinct on (x.k) x.k, x.present, x.image'
                ' from warden.audit_events_all e cross join lateral (values'
                ' (e.row_key, 1, e.op <> ''D'', e.new_row), (e.old_key, 0, false, null))'
                ' x(k, phase, present, image) where e.txid = $1 and x.k is not null'
                ' order by x.k, e.statement_id desc, x.phase desc, e.event_id desc) f'
                ' left join %s c on %s'
                ' where (c.ctid is not null) <> f.present'
                ' or (f.present and not (to_jsonb(c.*) - $2) @> (f.image - $2)) limit 1',
                rel, match)
               into current_row using p_txid, hidden;
            if current_row is not null then
                raise exception 'pgwarden: cannot revert transaction %: row % of % changed since',
                    p_txid, current_row, rel
                    using errcode = 'serialization_failure',
                          hint = 'revert the later change first, or revert the row to a time '
                                 'instead';
            end if;
            begin
                execute format(
                    'delete from %s c using (select distinct e.row_key as k'
                    ' from warden.audit_events_all e where e.txid = $1 and e.op = ''I'') f'
                    ' where %s', rel, match) using p_txid;
                -- Each updated row to the image before the transaction's first change of it.
                image := (select case e.op when 'U' then e.new_row || e.old_row else e.old_row end
                            from warden.audit_events_all e
                           where e.txid = p_txid and e.op = 'U' limit 1);
                select string_agg(format('%I = (f.r).%I', a.attname, a.attname), ', '
                                  order by a.attnum)
                  into cols
                  from pg_attribute a
                 where a.attrelid = rel and a.attnum > 0 and not a.attisdropped
                   and a.attgenerated = '' and a.attidentity <> 'a' and image ? a.attname
                   and a.attname <> all (hidden);
                if image is not null and cols is not null then
                    execute format(
                        'update %1$s c set %2$s from (select distinct on (e.row_key)'
                        ' e.row_key as k, jsonb_populate_record(null::%1$s,'
                        ' e.new_row || e.old_row) as r from warden.audit_events_all e'
                        ' where e.txid = $1 and e.op = ''U'''
                        ' order by e.row_key, e.statement_id, e.event_id) f where %3$s',
                        rel, cols, match) using p_txid;
                end if;
                image := (select e.old_row from warden.audit_events_all e
                           where e.txid = p_txid and e.op = 'D' limit 1);
                select string_agg(format('%I', a.attname), ', ' order by a.attnum),
                       string_agg(format('(f.r).%I', a.attname), ', ' order by a.attnum)
                  into cols, col_values
                  from pg_attribute a
                 where a.attrelid = rel and a.attnum > 0 and not a.attisdropped
                   and a.attgenerated = '' and image ? a.attname
                   and a.attname <> all (hidden);
                if image is not null then
                    if cols is null then
                        raise exception 'pgwarden: no column of % in the recorded image', rel;
                    end if;
                    execute format(
                        'insert into %1$s (%2$s) overriding system value select %3$s'
                        ' from (select jsonb_populate_record(null::%1$s, e.old_row) as r'
                        ' from warden.audit_events_all e where e.txid = $1 and e.op = ''D'''
                        ' order by e.statement_id, e.event_id) f', rel, cols, col_values)
                        using p_txid;
                end if;
                return query
                    select rel::text, coalesce(e.old_key, e.row_key),
                           case when e.op = 'I' then 'deleted' when e.op = 'D' then 'restored'
                                when e.old_key is not null then 'moved back'
                                else 'updated back' end
                      from warden.audit_events_all e
                     where e.txid = p_txid
                     order by e.statement_id desc, e.event_id desc;
                return;
            exception when foreign_key_violation or unique_violation then
                null;  -- row by row below, in the order the keys need
            end;
        end if;
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
    -- Newest change first. A change that a key refuses to put back yet waits, with every
    -- older change of its rows, for the next pass; a pass that puts nothing back raises the
    -- first refusal. Within a statement, the capture order is not the order the keys need:
    -- an ON UPDATE/DELETE action's rows follow their parent's (trigger capture of a foreign
    -- key's action; the WAL), a soft delete's cascade precedes it. So a change that would take
    -- away a row a waiting change needs (a key moved back, an insert undone) first lets the
    -- waiting ones try again, from the newest, when anything was put back since they began
    -- waiting; otherwise it waits too.
    may_hard_delete := coalesce(has_function_privilege(
        to_regprocedure('warden.allow_hard_delete()'), 'execute'), false);
    todo := array(select e.event_id from warden.audit_events_all e where e.txid = p_txid
                   order by e.statement_id desc, e.event_id desc);
    while cardinality(todo) > 0 loop
        waiting := '{}';
        blocked := '{}';
        needs := '{}';
        holds := '{}';
        refusal := null;
        done := 0;
        done_at_wait := null;
        restart := false;
        for ev in
            with tabs as materialized (
                -- soft: the table has soft delete (its BEFORE DELETE trigger marks rows)
                select t.table_id, t.relid, warden.audit_hidden_names(t.table_id) as hidden,
                       exists (select 1 from pg_trigger g
                                where g.tgrelid = t.relid and g.tgname = 'pgwarden_soft_delete'
                                  and g.tgenabled <> 'D') as soft
                  from warden.audit_tables t
                 where t.table_id in (select e.table_id from warden.audit_events_all e
                                       where e.txid = p_txid)
            )
            select e.*, t.relid, t.hidden, t.soft, warden.audit_moves(t.table_id, e.at) as moves
              from unnest(todo) with ordinality u(id, n)
              join warden.audit_events_all e on e.event_id = u.id and e.txid = p_txid
              join tabs t on t.table_id = e.table_id
             order by u.n
        loop
            if restart then
                waiting := waiting || ev.event_id;
                continue;
            end if;
            rel := ev.relid::regclass;
            keys := array(select jsonb_build_array(ev.table_id, k)
                            from unnest(array[ev.row_key, ev.old_key]) k where k is not null);
            must_wait := keys && blocked;
            -- The row as it was before this change, and as the change left it (NULL: absent;
            -- the latter only read when something waits or an insert may be hard-deleted).
            image := case ev.op when 'D' then warden.audit_rename_image(ev.old_row, ev.moves)
                                when 'U' then warden.audit_rename_image(ev.new_row || ev.old_row,
                                                                        ev.moves) end;
            left_image := case when ev.op <> 'D'
                                    and (cardinality(waiting) > 0
                                         or ev.op = 'I' and ev.soft and may_hard_delete)
                               then warden.audit_rename_image(ev.new_row, ev.moves) end;
            if not must_wait and cardinality(waiting) > 0 then
                takes := array(
                    select r.ref from warden.audit_fk_refs(rel, left_image - ev.hidden, true) r
                    except
                    select r.ref from warden.audit_fk_refs(rel, image - ev.hidden, true) r);
                -- An insert undone also deletes, by ON DELETE CASCADE, the rows referencing it.
                if takes && needs or (ev.op = 'I' and takes && holds) then
                    if done > done_at_wait then
                        restart := true;
                        waiting := waiting || ev.event_id;
                        continue;
                    end if;
                    must_wait := true;
                end if;
            end if;
            if not must_wait then
                begin
                    table_name := rel::text;
                    row_key := ev.row_key;
                    if ev.op = 'I' then
                        -- On a soft-delete table the row goes for real, as if never inserted
                        -- (a soft-deleted copy would keep referencing rows that older changes
                        -- take away), when the caller may hard-delete and nothing references
                        -- it; otherwise its DELETE marks it, as any DELETE does.
                        hard := ev.soft and may_hard_delete
                                and not warden.audit_referenced(rel, left_image);
                        if hard then
                            prior := current_setting('pgwarden.hard_delete', true);
                            perform warden.allow_hard_delete();
                        end if;
                        perform warden.put_row(rel, ev.row_key, false, null);
                        if hard then
                            perform set_config('pgwarden.hard_delete', coalesce(prior, ''), true);
                        end if;
                        action := 'deleted';
                    elsif ev.op = 'D' then
                        perform warden.put_row(rel, ev.row_key, true, image);
                        action := 'restored';
                    else
                        perform warden.put_row(rel, ev.row_key, true, image);
                        if ev.old_key is null then
                            action := 'updated back';
                        else
                            -- The row moved from old_key to row_key: move it back.
                            row_key := ev.old_key;
                            action := 'moved back';
                        end if;
                    end if;
                    done := done + 1;
                exception when foreign_key_violation or unique_violation then
                    if refusal is null then
                        get stacked diagnostics refusal = message_text,
                                                refusal_hint = pg_exception_hint,
                                                refusal_state = returned_sqlstate;
                    end if;
                    must_wait := true;
                end;
            end if;
            if must_wait then
                if ev.op <> 'D' and left_image is null then
                    left_image := warden.audit_rename_image(ev.new_row, ev.moves);
                end if;
                done_at_wait := coalesce(done_at_wait, done);
                waiting := waiting || ev.event_id;
                blocked := blocked || keys;
                needs := needs || array(
                    select r.ref from warden.audit_fk_refs(rel, image - ev.hidden, false) r);
                holds := holds || array(
                    select r.ref from warden.audit_fk_refs(rel, left_image - ev.hidden, false) r
                     where r.on_delete = 'c');
                continue;
            end if;
            return next;
        end loop;
        if not restart and done = 0 then
            raise exception using errcode = refusal_state, message = refusal,
                                  hint = coalesce(refusal_hint, '');
        end if;
        todo := waiting;
    end loop;
end
$$;
REVOKE ALL ON FUNCTION warden.revert_transaction(p_txid xid8) FROM PUBLIC;
