-- function warden.audit_redact(jsonb,text[])
-- A row image with p_columns replaced by a keyed hash (warden.secrets 'audit_redaction'):
-- equal for equal values, so changes still show, but not reversible by guessing.
CREATE OR REPLACE FUNCTION warden.audit_redact(p_row jsonb, p_columns text[]) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select p_row || coalesce(jsonb_object_agg(c,
               'sha256:' || encode(sha256(convert_to(s.value || (p_row ->> c), 'UTF8')), 'hex')), '{}')
      from unnest(p_columns) c, warden.secrets s
     where s.name = 'audit_redaction' and p_row ->> c is not null
$$;
REVOKE ALL ON FUNCTION warden.audit_redact(p_row jsonb, p_columns text[]) FROM PUBLIC;
