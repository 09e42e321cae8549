-- function warden.audit_generated_sql(integer,text)
-- SQL text of the jsonb image expression p_image with the table's generated columns (stored
-- and virtual) computed again from the image's other columns, by the expressions the table
-- has now: images do not hold them reliably (a trigger sees a virtual column as NULL, and
-- logical decoding sends no generated column). A generated column is left as the image has
-- it when it, or a column it reads, is excluded or redacted, or when the image lacks a column
-- it reads (captured before that column existed, or under names from before a rename).
-- NULL when the table has no generated column: the image is used as it is.
CREATE OR REPLACE FUNCTION warden.audit_generated_sql(p_table_id integer, p_image text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    with t as (
        select t.relid, warden.audit_hidden_names(t.table_id) as hidden
          from warden.audit_tables t
         where t.table_id = p_table_id and exists (select 1 from pg_class c where c.oid = t.relid)
    ),
    g as (
        select a.attnum, a.attname::text as name, format_type(a.atttypid, a.atttypmod) as type,
               pg_get_expr(d.adbin, d.adrelid) as expr,
               array(select b.attname::text
                       from pg_depend p
                       join pg_attribute b on b.attrelid = p.refobjid and b.attnum = p.refobjsubid
                      where p.classid = 'pg_attrdef'::regclass and p.objid = d.oid
                        and p.refclassid = 'pg_class'::regclass and p.refobjid = t.relid
                        and p.refobjsubid > 0 and p.refobjsubid <> a.attnum) as reads,
               t.hidden
          from t
          join pg_attribute a on a.attrelid = t.relid
          join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
         where a.attnum > 0 and not a.attisdropped and a.attgenerated <> ''
    )
    -- The image once (pgw_i), read as a row of the table (pgw_r): the expressions' column
    -- names resolve there first, whatever the caller's query has around it.
    select format(
        '(select pgw_i.v || (select to_jsonb(pgw_g) from (select %s from '
        'jsonb_populate_record(null::%s, pgw_i.v) pgw_r) pgw_g) from (select %s) pgw_i(v))',
        string_agg(format('case when pgw_i.v ?& %L::text[] then (%s)::%s else pgw_r.%I end as %I',
                          g.reads, g.expr, g.type, g.name, g.name), ', ' order by g.attnum),
        (select t.relid::regclass from t), p_image)
      from g
     where g.name <> all (g.hidden) and not g.reads && g.hidden
    having count(*) > 0
$$;
REVOKE ALL ON FUNCTION warden.audit_generated_sql(p_table_id integer, p_image text) FROM PUBLIC;
