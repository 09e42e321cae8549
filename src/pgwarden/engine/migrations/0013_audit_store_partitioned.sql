-- pgwarden's own audit event store, partitioned by month of `at` (dogfood of `partition`).
--
-- Nothing is copied: the existing store becomes the partition `audit_events__history`
-- (everything before next month), attached after a read-only validation scan. New months
-- are made ahead by maintenance (the partition feature's premake), a default partition
-- catches anything else, and retention drops whole months once every event in them is past
-- its table's retention (warden.audit_prune deletes the rest in batches).
do $$
declare
    last_id bigint;
    boundary timestamptz :=
        (date_trunc('month', now() at time zone 'UTC') + interval '1 month') at time zone 'UTC';
    idx record;
begin
    last_id := pg_sequence_last_value(
        pg_get_serial_sequence('warden.audit_events', 'event_id')::regclass);
    alter table warden.audit_events rename to audit_events__history;
    for idx in select indexname from pg_indexes
                where schemaname = 'warden' and tablename = 'audit_events__history' loop
        execute format('alter index warden.%I rename to %I', idx.indexname,
                       replace(idx.indexname, 'audit_events_', 'audit_events__history_'));
    end loop;
    create table warden.audit_events (
        like warden.audit_events__history
        including defaults including identity including constraints including comments
    ) partition by range (at);
    if last_id is not null then
        perform setval(pg_get_serial_sequence('warden.audit_events', 'event_id'), last_id);
    end if;
    alter table warden.audit_events__history alter column event_id drop identity;
    execute format('alter table warden.audit_events attach partition warden.audit_events__history '
                   'for values from (minvalue) to (%L)', boundary);
    execute format('create table warden.audit_events__p%s partition of warden.audit_events '
                   'for values from (%L) to (%L)', to_char(boundary at time zone 'UTC', 'YYYYMM'),
                   boundary, boundary + interval '1 month');
    create table warden.audit_events__default partition of warden.audit_events default;
end
$$;

-- The same indexes on the parent (the history partition's own are attached, not rebuilt).
create index audit_events_row on warden.audit_events (table_id, row_key);
create index audit_events_old_key on warden.audit_events (table_id, old_key)
    where old_key is not null;
create index audit_events_feed on warden.audit_events using brin (event_id);
create index audit_events_txid on warden.audit_events (txid);
create index audit_events_at on warden.audit_events using brin (at);
revoke all on warden.audit_events from public;
comment on table warden.audit_events is
    'One row per changed row (op I/U/D) or truncate (T), partitioned by month of at. row_key: '
    'the key after the change (the removed key for D); old_key: the key before an UPDATE that '
    'changed it; old_row: the row before (U, D); new_row: the row after (I, U).';

-- The view over the store is bound to the table it was created on: point it at the parent.
create or replace view warden.audit_facts_all as
    select x.k as row_key, e.statement_id, x.phase, e.event_id, e.at, e.op, e.txid,
           e.context_seq, x.present_before, x.row_before, x.present_after, x.row_after,
           e.table_id, e.row_key as event_key, e.old_key as event_old_key
      from warden.audit_events e
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

-- A ctid is unique only within one partition: the batch delete joins on (tableoid, ctid).
-- The clock is a parameter, so maintenance runs on its own (testable) clock.
drop function warden.audit_prune(int);
create function warden.audit_prune(p_batch int default 10000, p_now timestamptz default now())
returns bigint
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    removed bigint;
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
    delete from warden.audit_contexts c
     where c.tx_started_at < p_now - (select min(retention) from warden.audit_tables)
       and not exists (select 1 from warden.audit_events e where e.txid = c.txid);
    return removed;
end
$$;
revoke all on function warden.audit_prune(int, timestamptz) from public;

-- Whole partitions of the store that ended before now and whose every event is past its
-- table's retention (a table without retention keeps its events: a partition holding any of
-- them stays). Dropping one is what retention costs on a partitioned store.
create function warden.audit_expired_partitions(p_now timestamptz default now())
returns setof regclass
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select c.oid::regclass
      from pg_inherits i join pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'warden.audit_events'::regclass
       and substring(pg_get_expr(c.relpartbound, c.oid) from $re$TO \('([^']+)'\)$re$)::timestamptz
           <= p_now
       and not exists (
           select 1 from warden.audit_events e
             left join warden.audit_tables t on t.table_id = e.table_id
            where e.tableoid = c.oid
              and (t.retention is null or e.at >= p_now - t.retention))
$$;
revoke all on function warden.audit_expired_partitions(timestamptz) from public;
