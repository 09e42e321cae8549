-- warden.audit_adopt_partitions() (the event trigger pgwarden_audit_partitions, 0023), twice
-- mended.
--
-- WAL capture's statement trigger pgwarden_audit_w may now call warden_wal.statement(), the
-- C function of extension pgwarden_wal, instead of warden.audit_wal_statement(): both are
-- shared by every table captured from the WAL. When it removed, from a detached partition,
-- the triggers calling the table's own capture functions, it spared only the PL/pgSQL one:
-- with the C one it would have removed the context trigger of every other table marked by
-- it. It now spares that trigger by its name, whatever it calls.
--
-- It ran again for each ALTER TABLE it issued itself: giving REPLICA IDENTITY FULL to one
-- partition fired it anew, which gave it to the next, and so on, one nested call per
-- partition, each visiting the whole tree. Applying capture = "wal" to a table of 300
-- partitions took minutes; of 1,000, more than 45 (bench/audit_partition_ddl.py found it).
-- It now runs once per command: a transaction-local setting marks that it is at work, and
-- calls nested in it return at once (what they would do, the outer call does); so do calls
-- inside pgwarden's apply, marked likewise (pgwarden._applying). A session setting the mark
-- itself only keeps its own new partitions from their triggers until the next apply, which
-- the plan shows; the owner of a partition can drop its triggers anyway.

create or replace function warden.audit_adopt_partitions() returns event_trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    root oid;
    t record;
begin
    -- Nested in its own work, or inside pgwarden's apply (which gives every partition its
    -- capture itself, one ALTER TABLE each: visiting the tree for each was quadratic).
    if current_setting('pgwarden._adopting', true) = 'on'
       or current_setting('pgwarden._applying', true) = 'on' then
        return;
    end if;
    perform set_config('pgwarden._adopting', 'on', true);
    for root in
        select distinct audited.relid
          from (select distinct d.objid from pg_event_trigger_ddl_commands() d
                 where d.classid = 'pg_class'::regclass) cmd
         cross join lateral (
               select a.relid
                 from pg_partition_ancestors(cmd.objid) with ordinality a(relid, n)
                 join warden.audit_tables r on r.relid = a.relid and r.dropped_at is null
                order by a.n
                limit 1) audited
         where (select c.relkind from pg_class c where c.oid = audited.relid) = 'p'
    loop
        for t in
            select p.relid as part, g.tgname, g.tgtype::int as tgtype, g.tgfoid::regproc as fn,
                   (select string_agg(quote_ident(a.attname), ', ' order by k.n)
                      from unnest(g.tgattr::int2[]) with ordinality k(attnum, n)
                      join pg_attribute a on a.attrelid = root and a.attnum = k.attnum) as cols
              from pg_partition_tree(root) p
              join pg_trigger g on g.tgrelid = root
             where p.relid <> root and not g.tgisinternal
               and g.tgname like 'pgwarden\_audit\_%'
               and g.tgtype::int & 1 = 0  -- statement level (row triggers are cloned)
               and not exists (select 1 from pg_trigger x
                                where x.tgrelid = p.relid and x.tgname = g.tgname
                                  and x.tgfoid = g.tgfoid and x.tgtype = g.tgtype)
        loop
            execute format(
                'create or replace trigger %I %s %s on %s for each statement '
                'execute function %s()',
                t.tgname,
                case when t.tgtype & 2 <> 0 then 'before' else 'after' end,
                concat_ws(' or ',
                    case when t.tgtype & 4 <> 0 then 'insert' end,
                    case when t.tgtype & 8 <> 0 then 'delete' end,
                    case when t.tgtype & 16 <> 0 then 'update' || coalesce(' of ' || t.cols, '')
                    end,
                    case when t.tgtype & 32 <> 0 then 'truncate' end),
                t.part::regclass, t.fn);
        end loop;
        if (select c.relreplident from pg_class c where c.oid = root) = 'f' then
            for t in
                select p.relid as part from pg_partition_tree(root) p
                  join pg_class c on c.oid = p.relid
                 where c.relreplident <> 'f'
            loop
                execute format('alter table %s replica identity full', t.part::regclass);
            end loop;
        end if;
        -- The table's own capture functions (not the context trigger's, which every table shares).
        for t in
            select g.tgrelid, g.tgname from pg_trigger g
             where not g.tgisinternal and g.tgname like 'pgwarden\_audit\_%'
               and g.tgrelid <> root
               and g.tgrelid <> all (array(select p.relid from pg_partition_tree(root) p))
               and g.tgfoid in (select r.tgfoid from pg_trigger r
                                 where r.tgrelid = root and not r.tgisinternal
                                   and r.tgname like 'pgwarden\_audit\_%'
                                   and r.tgname <> 'pgwarden_audit_w')
        loop
            execute format('drop trigger %I on %s', t.tgname, t.tgrelid::regclass);
        end loop;
    end loop;
    perform set_config('pgwarden._adopting', '', true);
exception when others then
    -- (The mark set in the block is rolled back with it.)
    raise warning 'pgwarden: could not give the partitions of an audited table their capture: %',
        sqlerrm
        using hint = 'run pgwarden apply: the plan lists what the partitions still lack';
end
$$;
