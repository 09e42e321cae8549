-- function warden.audit_generated_sql(integer,text,boolean)
-- SQL text computing the table's generated columns (stored and virtual) again from the jsonb
-- image expression p_image, by the expressions the table has now: images do not hold them
-- reliably (a trigger sees a virtual column as NULL; logical decoding sends no virtual one,
-- nor stored ones before PostgreSQL 18). p_row false: a jsonb expression, the image with
-- them put in; true: a FROM item, the image as a row of the table (cheaper than populating
-- the jsonb twice). A generated column is left as the image has it when it, or a column it
-- reads, is excluded or redacted, or when the image lacks a column it reads (captured before
-- that column existed, or under names from before a rename). NULL when the table has no
-- generated column: the image is used as it is. In PL/pgSQL for its first test (one index
-- probe, its plan kept by the session): every history() call asks, most tables have none.
CREATE OR REPLACE FUNCTION warden.audit_generated_sql(p_table_id integer, p_image text, p_row boolean) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    if not exists (select 1 from warden.audit_tables t
                     join pg_attribute a on a.attrelid = t.relid
                    where t.table_id = p_table_id and a.attnum > 0 and a.attgenerated <> ''
                      and not a.attisdropped) then
        return null;
    end if;
    return (
    with t as (
        select t.relid::regclass as rel, warden.audit_hidden_names(t.table_id) as hidden
          from warden.audit_tables t
         where t.table_id = p_table_id and exists (select 1 from pg_class c where c.oid = t.relid)
    ),
    a as (
        select a.attnum, a.attname::text as name, pg_get_expr(d.adbin, d.adrelid) as expr,
               format_type(a.atttypid, a.atttypmod) as type, reads.names as reads,
               d.oid is not null and a.attname <> all (t.hidden)
                   and not reads.names && t.hidden as computed
          from t
          join pg_attribute a on a.attrelid = t.rel
          left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
                                and a.attgenerated <> ''
         cross join lateral (select array(
                select b.attname::text
                  from pg_depend p
                  join pg_attribute b on b.attrelid = p.refobjid and b.attnum = p.refobjsubid
                 where p.classid = 'pg_attrdef'::regclass and p.objid = d.oid
                   and p.refclassid = 'pg_class'::regclass and p.refobjid = t.rel
                   and p.refobjsubid > 0 and p.refobjsubid <> a.attnum)) reads(names)
         where a.attnum > 0 and not a.attisdropped
    ),
    -- Each computed column reads the image as a row (pgw_r): the expression's column names
    -- resolve there first, whatever the caller's query has around it.
    c as (
        select a.*, format('case when %s ?& %L::text[] then (%s)::%s else pgw_r.%I end as %I',
                           case when p_row then p_image else 'pgw_i.v' end,
                           a.reads, a.expr, a.type, a.name, a.name) as sql
          from a
    )
    select case when p_row
        then format('(select %s from jsonb_populate_record(null::%s, %s) pgw_r)',
                    string_agg(case when c.computed then c.sql else format('pgw_r.%I', c.name) end,
                               ', ' order by c.attnum),
                    (select t.rel from t), p_image)
        -- the image once (pgw_i, outside the scope where the expressions' names resolve)
        else format('(select pgw_i.v || (select to_jsonb(pgw_g) from (select %s from '
                    'jsonb_populate_record(null::%s, pgw_i.v) pgw_r) pgw_g) '
                    'from (select %s) pgw_i(v))',
                    string_agg(c.sql, ', ' order by c.attnum) filter (where c.computed),
                    (select t.rel from t), p_image)
        end
      from c
    having bool_or(c.computed));
end
$$;
REVOKE ALL ON FUNCTION warden.audit_generated_sql(p_table_id integer, p_image text, p_row boolean) FROM PUBLIC;
