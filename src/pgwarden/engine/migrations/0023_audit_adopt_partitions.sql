-- A partition made, attached or detached by hand under an audited table is captured as it
-- should be at once, not from the next apply on. PostgreSQL clones row triggers to new
-- partitions (and drops them from detached ones), but neither statement triggers (TRUNCATE,
-- the end of a statement for row capture; with capture = "wal" the context and key-change
-- triggers) nor REPLICA IDENTITY FULL, without which the WAL carries no old row of an UPDATE
-- or DELETE on that partition. The audit feature's event trigger pgwarden_audit_partitions
-- (ddl_command_end of CREATE TABLE and ALTER TABLE: ATTACH and DETACH PARTITION report the
-- parent) calls this function. For each audited table above what the command touched:
-- every partition below it gets the statement triggers the table has (replaced when they
-- call another function, as after moving from another table) and its REPLICA IDENTITY FULL;
-- a table no longer below it loses the triggers calling the table's own capture functions
-- (a TRUNCATE of a detached partition is not the table's). The next apply records them as
-- its own. Never fails the user's command: an error becomes a WARNING (the plan then shows
-- what is missing). SECURITY DEFINER: the partition's owner needs no privilege on the
-- capture functions.

create or replace function warden.audit_adopt_partitions() returns event_trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    root oid;
    t record;
begin
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
        -- The table's own capture functions (not the statement function WAL capture shares).
        for t in
            select g.tgrelid, g.tgname from pg_trigger g
             where not g.tgisinternal and g.tgname like 'pgwarden\_audit\_%'
               and g.tgrelid <> root
               and g.tgrelid <> all (array(select p.relid from pg_partition_tree(root) p))
               and g.tgfoid in (select r.tgfoid from pg_trigger r
                                 where r.tgrelid = root and not r.tgisinternal
                                   and r.tgname like 'pgwarden\_audit\_%'
                                   and r.tgfoid <> 'warden.audit_wal_statement()'::regprocedure)
        loop
            execute format('drop trigger %I on %s', t.tgname, t.tgrelid::regclass);
        end loop;
    end loop;
exception when others then
    raise warning 'pgwarden: could not give the partitions of an audited table their capture: %',
        sqlerrm
        using hint = 'run pgwarden apply: the plan lists what the partitions still lack';
end
$$;
