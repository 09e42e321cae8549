-- function warden.roles_give_back_ownership(text,text)
-- Undoes warden.roles_take_ownership: every object of the schema still owned by the owner
-- role goes back to the role that owned it before, when that role still exists.
CREATE OR REPLACE FUNCTION warden.roles_give_back_ownership(p_schema text, p_owner text)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    o record;
begin
    for o in
        select p.classid, p.objid, p.previous_owner,
               case when p.classid = 'pg_class'::regclass then
                        (select case c.relkind when 'v' then 'VIEW'
                                     when 'm' then 'MATERIALIZED VIEW' when 'S' then 'SEQUENCE'
                                     when 'f' then 'FOREIGN TABLE' else 'TABLE' end
                           from pg_class c where c.oid = p.objid)
                    when p.classid = 'pg_proc'::regclass then 'ROUTINE' end as kind,
               case when p.classid = 'pg_class'::regclass then
                        (select c.oid::regclass::text from pg_class c
                          where c.oid = p.objid
                            and c.relowner = (select oid from pg_roles where rolname = p_owner))
                    when p.classid = 'pg_proc'::regclass then
                        (select f.oid::regprocedure::text from pg_proc f
                          where f.oid = p.objid
                            and f.proowner = (select oid from pg_roles where rolname = p_owner))
                    else
                        (select quote_ident(n.nspname) from pg_namespace n
                          where n.oid = p.objid
                            and n.nspowner = (select oid from pg_roles where rolname = p_owner))
               end as name
          from warden.role_previous_owners p
         where p.schema_name = p_schema
         order by p.classid = 'pg_namespace'::regclass, p.objid
    loop
        if o.name is not null
           and exists (select 1 from pg_roles where rolname = o.previous_owner) then
            execute format('ALTER %s %s OWNER TO %I',
                           coalesce(o.kind, 'SCHEMA'), o.name, o.previous_owner);
        end if;
        delete from warden.role_previous_owners where classid = o.classid and objid = o.objid;
    end loop;
end
$$;
REVOKE ALL ON FUNCTION warden.roles_give_back_ownership(p_schema text, p_owner text) FROM PUBLIC;
