-- function warden.audit_adopt_partitions()
-- The event trigger pgwarden_audit_partitions (ddl_command_end of CREATE TABLE and ALTER
-- TABLE) calls this: a partition made, attached or detached by hand under an audited table is
-- captured as it should be at once. PostgreSQL clones row triggers to new partitions but
-- neither statement triggers nor REPLICA IDENTITY FULL: for each audited table above what the
-- command touched, every partition below it gets the table's statement triggers and its
-- REPLICA IDENTITY FULL; a table no longer below it loses the triggers calling the table's
-- own capture functions (never the context trigger pgwarden_audit_w, shared by every table).
-- Runs once per command (calls nested in its own work return at once) and not at all inside
-- pgwarden's apply (warden.applying()), which does the same work itself. Never fails the
-- user's command: an error becomes a WARNING (the plan then shows what is missing).
-- SECURITY DEFINER: the partition's owner needs no privilege on the capture functions.
CREATE OR REPLACE FUNCTION warden.audit_adopt_partitions() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    root oid;
    t record;
begin
    -- Nested in its own work, or inside pgwarden's apply (which gives every partition its
    -- capture itself, one ALTER TABLE each: visiting the tree for each was quadratic).
    if current_setting('pgwarden._adopting', true) = 'on' or warden.applying() then
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
