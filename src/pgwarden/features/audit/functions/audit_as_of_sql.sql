-- function warden.audit_as_of_sql(integer,timestamp with time zone,text,text,text)
-- The query of a whole table as it was at p_at (its parameters: $1 table id, $2 p_at, $4 the
-- time the rows of p_from are as of: infinity for the live table, or a checkpoint's), used by
-- as_of and by warden.audit_checkpoint_take. Rows changed between the two times come from
-- the store (p_rowtype: a value of the table's row type, e.g. $3), as they were before their
-- first change after p_at, images translated to the current column names when a rename came
-- later; every other row is p_select from p_from (whose row alias is c).
CREATE OR REPLACE FUNCTION warden.audit_as_of_sql(p_table_id integer, p_at timestamp with time zone, p_rowtype text, p_from text, p_select text) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    image text := 's.row_data';
begin
    if warden.audit_renamed_after(p_table_id, p_at) then
        image := coalesce(warden.audit_rename_sql(p_table_id, p_at, 's.row_data', 's.at'), image);
    end if;
    return format(
        $q$ with %s
            select r.* from s cross join lateral jsonb_populate_record(%s, %s) r
             where s.present
            union all
            select %s from %s
             where not exists (select 1 from firsts w where %s) $q$,
        warden.audit_first_after_sql(), p_rowtype, image, p_select, p_from,
        warden.audit_key_match_sql(p_table_id, 'w.k', 'c'));
end
$_$;
REVOKE ALL ON FUNCTION warden.audit_as_of_sql(p_table_id integer, p_at timestamp with time zone, p_rowtype text, p_from text, p_select text) FROM PUBLIC;
