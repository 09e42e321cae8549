-- function warden.audit_generated(jsonb,text)
-- Image p_image with its generated columns computed again by p_query, the text
-- warden.audit_generated_sql(table id, '$1', false) gave (NULL: the image as it is). For reads of
-- one image at a time; set-wise reads put that text into their own query instead.
CREATE OR REPLACE FUNCTION warden.audit_generated(p_image jsonb, p_query text) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    result jsonb;
begin
    if p_query is null or p_image is null then
        return p_image;
    end if;
    execute 'select ' || p_query into result using p_image;
    return result;
end
$$;
REVOKE ALL ON FUNCTION warden.audit_generated(p_image jsonb, p_query text) FROM PUBLIC;
