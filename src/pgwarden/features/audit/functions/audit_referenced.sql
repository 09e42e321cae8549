-- function warden.audit_referenced(regclass,jsonb)
-- Whether another row references the row p_image of p_rel through a foreign key (one lookup
-- per key, as the DELETE's own check would make; the values typed as put_row types them).
CREATE OR REPLACE FUNCTION warden.audit_referenced(p_rel regclass, p_image jsonb) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    fk record;
    found boolean;
begin
    for fk in
        select c.conrelid::regclass as child,
               string_agg(format('c.%I = r.%I', ca.attname, pa.attname), ' and ') as matches,
               -- A key into its own table: the row referencing itself does not count.
               case when c.conrelid = c.confrelid
                    then format(' and not (%s)', string_agg(format('c.%I = r.%I', pa.attname,
                                                                   pa.attname), ' and '))
                    else '' end as not_itself,
               bool_and(coalesce(jsonb_typeof(p_image -> pa.attname::text), 'null') <> 'null')
                   as complete
          from pg_constraint c
         cross join lateral unnest(c.conkey, c.confkey) k(child_att, parent_att)
          join pg_attribute ca on ca.attrelid = c.conrelid and ca.attnum = k.child_att
          join pg_attribute pa on pa.attrelid = c.confrelid and pa.attnum = k.parent_att
         where c.contype = 'f' and c.conparentid = 0 and c.confrelid = p_rel
         group by c.oid, c.conrelid, c.confrelid
    loop
        continue when not fk.complete;
        execute format('select exists (select 1 from jsonb_populate_record(null::%s, $1) r '
                       'join %s c on %s%s)', p_rel, fk.child, fk.matches, fk.not_itself)
           into found using p_image;
        if found then
            return true;
        end if;
    end loop;
    return false;
end
$_$;
REVOKE ALL ON FUNCTION warden.audit_referenced(p_rel regclass, p_image jsonb) FROM PUBLIC;
