-- The audit store's archive: events older than their table's `archive_after` leave the hot,
-- monthly-partitioned store for warden.audit_events_archive (same columns, partitioned by
-- year of `at` so retention drops whole years). The `audit-archive` maintenance job moves
-- them, one `delete ... returning` feeding an `insert` per batch. Every read goes through
-- warden.audit_events_all (hot UNION ALL archive), so history, time travel, versions,
-- revert and the feed read across the archive unchanged. Context rows are not moved.

alter table warden.audit_tables add column if not exists archive_after interval;

create table warden.audit_events_archive (
    like warden.audit_events including constraints including comments
) partition by range (at);
comment on table warden.audit_events_archive is
    'Audit events moved out of warden.audit_events once older than their table''s '
    'archive_after (columns and meaning unchanged), partitioned by year of at. Yearly '
    'partitions are made by the audit-archive job as it needs them.';

-- Archived events are written once and read rarely: lz4 where the server has it (smaller
-- and faster to read than pglz). Partitions inherit the column's compression.
do $$
begin
    if exists (select 1 from pg_settings
                where name = 'default_toast_compression' and 'lz4' = any(enumvals)) then
        alter table warden.audit_events_archive
            alter column row_key set compression lz4,
            alter column old_key set compression lz4,
            alter column old_row set compression lz4,
            alter column new_row set compression lz4;
    end if;
end
$$;

-- One row's history and key moves (as on the hot store), the transaction of an event
-- (revert_transaction, the feed, and the check that keeps context rows of archived events
-- from being pruned; xid8 has no BRIN operator class), and BRIN on at and event_id, which
-- grow with insertion order. Paid when archiving, not when capturing.
create index audit_events_archive_row on warden.audit_events_archive (table_id, row_key);
create index audit_events_archive_old_key on warden.audit_events_archive (table_id, old_key)
    where old_key is not null;
create index audit_events_archive_txid on warden.audit_events_archive (txid);
create index audit_events_archive_feed on warden.audit_events_archive using brin (event_id);
create index audit_events_archive_at on warden.audit_events_archive using brin (at);
revoke all on warden.audit_events_archive from public;

-- Every event, hot or archived. A plain UNION ALL of the two stores with identical column
-- types: the planner flattens it and pushes the callers' conditions (table id, key, txid,
-- time) into each store, so each uses its own indexes.
create view warden.audit_events_all as
    select e.event_id, e.statement_id, e.txid, e.context_seq, e.table_id, e.op, e.at,
           e.row_key, e.old_key, e.old_row, e.new_row, false as archived
      from warden.audit_events e
    union all
    select a.event_id, a.statement_id, a.txid, a.context_seq, a.table_id, a.op, a.at,
           a.row_key, a.old_key, a.old_row, a.new_row, true as archived
      from warden.audit_events_archive a;
revoke all on warden.audit_events_all from public;

-- The facts view (and with it audit_facts, audit_state_at, audit_first_after, history,
-- row_as_of, as_of and versions, which read only through it) now covers both stores.
create or replace view warden.audit_facts_all as
    select x.k as row_key, e.statement_id, x.phase, e.event_id, e.at, e.op, e.txid,
           e.context_seq, x.present_before, x.row_before, x.present_after, x.row_after,
           e.table_id, e.row_key as event_key, e.old_key as event_old_key
      from warden.audit_events_all e
     cross join lateral (values
        (e.row_key, 1,
         e.op = 'D' or (e.op = 'U' and e.old_key is null),
         case when e.op = 'D' then e.old_row
              when e.op = 'U' and e.old_key is null then e.new_row || e.old_row end,
         e.op <> 'D',
         case when e.op <> 'D' then e.new_row end),
        (e.old_key, 0, true, e.new_row || e.old_row, false, null::jsonb)
     ) as x(k, phase, present_before, row_before, present_after, row_after)
     where e.op <> 'T' and x.k is not null;

-- As in 0003, with the last TRUNCATE looked up in both stores.
create or replace function warden.audit_state_at(
    p_table_id int, p_at timestamptz, p_key jsonb default null
)
returns table (row_key jsonb, present boolean, row_data jsonb)
language sql stable
as $$
    with f as materialized (
        select * from warden.audit_facts(p_table_id) where p_key is null
        union all
        select * from warden.audit_facts(p_table_id, p_key) where p_key is not null
    ),
    wiped as (  -- the last TRUNCATE at or before p_at
        select coalesce(max(e.statement_id), 0) as statement_id from warden.audit_events_all e
         where e.table_id = p_table_id and e.op = 'T' and e.at <= p_at
    ),
    last_before as (
        select distinct on (f.row_key) f.row_key, f.statement_id, f.present_after, f.row_after
          from f where f.at <= p_at
         order by f.row_key, f.statement_id desc, f.phase desc, f.event_id desc
    ),
    first_after as (
        select distinct on (f.row_key) f.row_key, f.present_before, f.row_before
          from f where f.at > p_at
         order by f.row_key, f.statement_id, f.phase, f.event_id
    )
    select coalesce(b.row_key, a.row_key),
           case when b.row_key is not null
                then b.present_after and b.statement_id > w.statement_id
                else a.present_before end,
           case when b.row_key is not null then b.row_after else a.row_before end
      from last_before b
      full join first_after a on a.row_key = b.row_key
     cross join wiped w
$$;

-- As in 0005, reading the transaction's events from both stores.
create or replace function warden.revert_transaction(p_txid xid8)
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
    if not exists (select 1 from warden.audit_events_all e where e.txid = p_txid) then
        raise exception 'pgwarden: transaction % changed no audited row', p_txid
            using errcode = 'no_data_found';
    end if;
    if exists (select 1 from warden.audit_events_all e where e.txid = p_txid and e.op = 'T') then
        raise exception 'pgwarden: cannot revert transaction %: it truncated a table', p_txid;
    end if;
    for st in
        with facts as (
            select e.table_id, x.k, e.statement_id, x.phase, e.event_id, x.present, x.image
              from warden.audit_events_all e
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
          from warden.audit_events_all e
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

-- As in 0005, over both stores: a reader behind the archive horizon reads archived events
-- in their place in the feed (nothing is skipped because it moved).
create or replace function warden.changes_after(
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
      from warden.audit_events_all e
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

-- Retention covers both stores: up to p_batch events past their table's retention, hot
-- ones first. A context row goes only when neither store still has an event of it (an
-- archived event keeps its who and why).
create or replace function warden.audit_prune(
    p_batch int default 10000, p_now timestamptz default now()
)
returns bigint
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    removed bigint;
    more bigint;
begin
    with doomed as (
        select e.tableoid, e.ctid from warden.audit_events e
          join warden.audit_tables t on t.table_id = e.table_id
         where t.retention is not null and e.at < p_now - t.retention
         limit p_batch
    )
    delete from warden.audit_events e using doomed d
     where e.tableoid = d.tableoid and e.ctid = d.ctid;
    get diagnostics removed = row_count;
    if removed < p_batch then
        with doomed as (
            select e.tableoid, e.ctid from warden.audit_events_archive e
              join warden.audit_tables t on t.table_id = e.table_id
             where t.retention is not null and e.at < p_now - t.retention
             limit p_batch - removed
        )
        delete from warden.audit_events_archive e using doomed d
         where e.tableoid = d.tableoid and e.ctid = d.ctid;
        get diagnostics more = row_count;
        removed := removed + more;
    end if;
    delete from warden.audit_contexts c
     where c.tx_started_at < p_now - (select min(retention) from warden.audit_tables)
       and not exists (select 1 from warden.audit_events e where e.txid = c.txid)
       and not exists (select 1 from warden.audit_events_archive e where e.txid = c.txid);
    return removed;
end
$$;

-- Whole partitions of either store that ended before p_now and whose every event is past
-- its table's retention (an emptied month or year qualifies; a partition holding an event of
-- a table without retention stays; the current and future ones and the default never
-- qualify). One partition at a time, each scan stopping at its first event still kept:
-- never a join of the whole store.
create or replace function warden.audit_expired_partitions(p_now timestamptz default now())
returns setof regclass
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    part regclass;
    kept boolean;
begin
    for part in
        select c.oid::regclass
          from pg_inherits i join pg_class c on c.oid = i.inhrelid
         where i.inhparent in ('warden.audit_events'::regclass,
                               'warden.audit_events_archive'::regclass)
           and substring(pg_get_expr(c.relpartbound, c.oid) from $re$TO \('([^']+)'\)$re$)
               ::timestamptz <= p_now
         order by c.relname
    loop
        execute format('select exists (select 1 from %s e left join warden.audit_tables t '
                       'on t.table_id = e.table_id '
                       'where t.retention is null or e.at >= $1 - t.retention)', part)
           into kept using p_now;
        if not kept then
            return next part;
        end if;
    end loop;
end
$$;
revoke all on function warden.audit_expired_partitions(timestamptz) from public;

revoke all on all functions in schema warden from public;
