-- function warden.audit_facts(integer,jsonb)
-- The facts of one key (through the row history index).
CREATE OR REPLACE FUNCTION warden.audit_facts(p_table_id integer, p_key jsonb) RETURNS SETOF warden.audit_facts_all
    LANGUAGE sql STABLE
    AS $$
    select * from warden.audit_facts_all f
     where f.table_id = p_table_id and (f.event_key = p_key or f.event_old_key = p_key)
       and f.row_key = p_key
$$;
REVOKE ALL ON FUNCTION warden.audit_facts(p_table_id integer, p_key jsonb) FROM PUBLIC;
