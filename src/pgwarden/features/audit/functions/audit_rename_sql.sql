-- function warden.audit_rename_sql(integer,timestamp with time zone,text,text)
-- The same translation as SQL text over a jsonb expression p_image whose capture time is
-- p_at_expr, for events after p_at: one CASE branch per span, each a jsonb expression with
-- no function call (a few operators per row, where a call per row costs several times that).
-- NULL when there is nothing to translate.
CREATE OR REPLACE FUNCTION warden.audit_rename_sql(p_table_id integer, p_at timestamp with time zone, p_image text, p_at_expr text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
    select 'case ' || string_agg(
               format('when %1$s >= %2$L::timestamptz and %1$s < %3$L::timestamptz '
                      'then (%4$s - %5$L::text[])%6$s',
                      p_at_expr, s.from_at, s.to_at, p_image,
                      array(select jsonb_object_keys(s.moves)),
                      (select coalesce(string_agg(format(
                                  ' || case when %1$s ? %2$L then jsonb_build_object(%3$L, '
                                  '%1$s -> %2$L) else ''{}''::jsonb end',
                                  p_image, m.key, m.value #>> '{}'), ''), '')
                         from jsonb_each(s.moves) m where jsonb_typeof(m.value) = 'string')),
               ' ' order by s.from_at)
           || format(' else %s end', p_image)
      from warden.audit_rename_spans(p_table_id, p_at) s
$_$;
REVOKE ALL ON FUNCTION warden.audit_rename_sql(p_table_id integer, p_at timestamp with time zone, p_image text, p_at_expr text) FROM PUBLIC;
