-- function warden.roles_take_ownership(text,text)
-- Gives one schema, and what is in it (warden.roles_foreign_objects), to the owner role,
-- recording who owned each before (warden.role_previous_owners) so removal gives it back.
CREATE OR REPLACE FUNCTION warden.roles_take_ownership(p_schema text, p_owner text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    o record;
begin
    insert into warden.role_previous_owners (schema_name, classid, objid, previous_owner)
    select p_schema, 'pg_namespace'::regclass, n.oid, pg_get_userbyid(n.nspowner)
      from pg_namespace n
     where n.nspname = p_schema and n.nspowner <> (select oid from pg_roles where rolname = p_owner)
    on conflict do nothing;
    execute format('ALTER SCHEMA %I OWNER TO %I', p_schema, p_owner);
    for o in select * from warden.roles_foreign_objects(p_schema, p_owner) order by name loop
        insert into warden.role_previous_owners (schema_name, classid, objid, previous_owner)
        values (p_schema, o.classid, o.objid, pg_get_userbyid(o.owner))
        on conflict do nothing;
        execute format('ALTER %s %s OWNER TO %I', o.kind, o.name, p_owner);
    end loop;
end
$$;
REVOKE ALL ON FUNCTION warden.roles_take_ownership(p_schema text, p_owner text) FROM PUBLIC;
