-- function warden.roles_foreign_objects(text,text)
-- The objects of one schema that its owner role should own and does not: relations and
-- routines, but not what pgwarden itself made there (its ledger keeps those), members of
-- extensions, nor sequences that belong to a column (they follow their table's owner).
CREATE OR REPLACE FUNCTION warden.roles_foreign_objects(p_schema text, p_owner text)
    RETURNS TABLE(kind text, name text, owner oid, classid oid, objid oid)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select case c.relkind when 'v' then 'VIEW' when 'm' then 'MATERIALIZED VIEW'
                          when 'S' then 'SEQUENCE' when 'f' then 'FOREIGN TABLE'
                          else 'TABLE' end,
           c.oid::regclass::text, c.relowner, 'pg_class'::regclass::oid, c.oid
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = p_schema and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
       and c.relowner <> (select oid from pg_roles where rolname = p_owner)
       and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass
                          and d.objid = c.oid
                          and (d.deptype = 'e'
                               or (c.relkind = 'S' and d.deptype in ('a', 'i')
                                   and d.refclassid = 'pg_class'::regclass)))
       and not exists (select 1 from warden.owned_objects o
                        where o.identity ->> 'schema' = n.nspname
                          and o.identity ->> 'name' = c.relname
                          and o.kind in ('table', 'data_table', 'partition', 'view',
                                         'materialized_view'))
    union all
    select 'ROUTINE', p.oid::regprocedure::text, p.proowner, 'pg_proc'::regclass::oid, p.oid
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = p_schema
       and p.proowner <> (select oid from pg_roles where rolname = p_owner)
       and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                          and d.objid = p.oid and d.deptype = 'e')
$$;
REVOKE ALL ON FUNCTION warden.roles_foreign_objects(p_schema text, p_owner text) FROM PUBLIC;
