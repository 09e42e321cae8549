-- function warden.audit_checkpoint_source(bigint,regclass)
-- The rows of checkpoint p_checkpoint_id as rows of p_rel's current columns, as a FROM item
-- with alias c: each column found by its attribute number (renames change nothing), NULL
-- for a column added since. NULL when the checkpoint cannot serve: its table is gone, or a
-- column's type changed since it was taken.
CREATE OR REPLACE FUNCTION warden.audit_checkpoint_source(p_checkpoint_id bigint, p_rel regclass) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select case when bool_and(k.attname is null or k.atttypid = a.atttypid) then
               format('(select %s from warden.%I k) c',
                      string_agg(case
                          when k.attname is null
                               then format('null::%s as %I', format_type(a.atttypid, a.atttypmod),
                                           a.attname)
                          when k.atttypmod = a.atttypmod then format('k.%I as %I', k.attname, a.attname)
                          else format('k.%I::%s as %I', k.attname,
                                      format_type(a.atttypid, a.atttypmod), a.attname)
                          end, ', ' order by a.attnum),
                      'audit_checkpoint__' || p_checkpoint_id)
           end
      from pg_attribute a
      left join pg_attribute k
             on k.attrelid = to_regclass(format('warden.%I', 'audit_checkpoint__' || p_checkpoint_id))
            and k.attname = 'a' || a.attnum and not k.attisdropped
     where a.attrelid = p_rel and a.attnum > 0 and not a.attisdropped
    having to_regclass(format('warden.%I', 'audit_checkpoint__' || p_checkpoint_id)) is not null
$$;
REVOKE ALL ON FUNCTION warden.audit_checkpoint_source(p_checkpoint_id bigint, p_rel regclass) FROM PUBLIC;
