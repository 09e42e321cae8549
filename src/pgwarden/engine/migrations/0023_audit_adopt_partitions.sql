-- A partition made or attached by hand under an audited table is captured completely at
-- once, not from the next apply on. PostgreSQL clones row triggers to new partitions, but
-- neither statement triggers (TRUNCATE; and with capture = "wal" the context and key-change
-- triggers) nor REPLICA IDENTITY FULL, without which the WAL carries no old row of an UPDATE
-- or DELETE on that partition. The audit feature's event trigger pgwarden_audit_partitions
-- (ddl_command_end of CREATE TABLE and ALTER TABLE: ATTACH PARTITION reports the parent)
-- calls this function, which gives every partition under an audited table the statement
-- triggers that table has, and its REPLICA IDENTITY FULL. The next apply records them as its
-- own. Never fails the user's command: an error becomes a WARNING (the plan then shows what
-- is missing). SECURITY DEFINER: the partition's owner needs no privilege on the capture
-- functions.

create or replace function warden.audit_adopt_partitions() returns event_trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    p record;
    t record;
begin
    for p in
        select distinct tree.relid as part, audited.relid as root
          from (select distinct d.objid from pg_event_trigger_ddl_commands() d
                 where d.classid = 'pg_class'::regclass) cmd
         cross join lateral pg_partition_tree(cmd.objid) tree
         cross join lateral (
               select a.relid
                 from pg_partition_ancestors(tree.relid) with ordinality a(relid, n)
                 join warden.audit_tables r on r.relid = a.relid and r.dropped_at is null
                where a.relid <> tree.relid
                order by a.n
                limit 1) audited
    loop
        for t in
            select g.tgname, g.tgtype::int as tgtype, g.tgfoid::regproc as fn,
                   (select string_agg(quote_ident(a.attname), ', ' order by k.n)
                      from unnest(g.tgattr::int2[]) with ordinality k(attnum, n)
                      join pg_attribute a on a.attrelid = p.root and a.attnum = k.attnum) as cols
              from pg_trigger g
             where g.tgrelid = p.root and not g.tgisinternal
               and g.tgname like 'pgwarden\_audit\_%'
               and g.tgtype::int & 1 = 0  -- statement level (row triggers are cloned)
               and not exists (select 1 from pg_trigger x
                                where x.tgrelid = p.part and x.tgname = g.tgname)
        loop
            execute format(
                'create trigger %I %s %s on %s for each statement execute function %s()',
                t.tgname,
                case when t.tgtype & 2 <> 0 then 'before' else 'after' end,
                concat_ws(' or ',
                    case when t.tgtype & 4 <> 0 then 'insert' end,
                    case when t.tgtype & 8 <> 0 then 'delete' end,
                    case when t.tgtype & 16 <> 0 then 'update' || coalesce(' of ' || t.cols, '')
                    end,
                    case when t.tgtype & 32 <> 0 then 'truncate' end),
                p.part::regclass, t.fn);
        end loop;
        if (select c.relreplident from pg_class c where c.oid = p.root) = 'f'
           and (select c.relreplident from pg_class c where c.oid = p.part) <> 'f' then
            execute format('alter table %s replica identity full', p.part::regclass);
        end if;
    end loop;
exception when others then
    raise warning 'pgwarden: could not give a new partition of an audited table its capture: %',
        sqlerrm
        using hint = 'run pgwarden apply: the plan lists what the partition still lacks';
end
$$;
