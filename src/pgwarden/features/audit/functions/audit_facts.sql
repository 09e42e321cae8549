-- function warden.audit_facts(integer)
-- The facts of one key (through the row history index).
CREATE OR REPLACE FUNCTION warden.audit_facts(p_table_id integer) RETURNS SETOF warden.audit_facts_all
    LANGUAGE sql STABLE
    AS $$
    select * from warden.audit_facts_all f where f.table_id = p_table_id
$$;
REVOKE ALL ON FUNCTION warden.audit_facts(p_table_id integer) FROM PUBLIC;
