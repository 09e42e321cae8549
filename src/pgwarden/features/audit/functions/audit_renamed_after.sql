-- function warden.audit_renamed_after(integer,timestamp with time zone)
-- Whether any column of the table was renamed or dropped after p_at (an added column needs
-- no translation: older images just lack it). The fast paths below depend on this answer.
CREATE OR REPLACE FUNCTION warden.audit_renamed_after(p_table_id integer, p_at timestamp with time zone) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select exists (
        select 1 from warden.audit_columns c
         where c.table_id = p_table_id and c.since > p_at
           and exists (select 1 from warden.audit_columns p
                        where p.table_id = c.table_id and p.attnum = c.attnum
                          and p.since < c.since))
$$;
REVOKE ALL ON FUNCTION warden.audit_renamed_after(p_table_id integer, p_at timestamp with time zone) FROM PUBLIC;
