-- function warden.audit_fk_refs(regclass,jsonb,boolean)
-- The rows an image of a row of p_rel names through foreign keys, each as [referenced table,
-- its columns, their values] (columns in the referenced table's order, so both sides of a key
-- give the same value): with p_referenced false, the rows it references (one per key whose
-- columns are all set; on_delete is that key's ON DELETE action); with p_referenced true, the
-- row itself as each key referencing p_rel sees it. revert_transaction orders its changes by
-- them: a change that takes a row away waits for the waiting changes that need that row.
CREATE OR REPLACE FUNCTION warden.audit_fk_refs(p_rel regclass, p_image jsonb, p_referenced boolean) RETURNS TABLE(ref jsonb, on_delete "char")
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select jsonb_build_array(c.confrelid::bigint,
                             jsonb_agg(pa.attname order by pa.attnum),
                             jsonb_agg(p_image -> (case when p_referenced then pa.attname
                                                        else ca.attname end)::text
                                       order by pa.attnum)),
           c.confdeltype
      from pg_constraint c
     cross join lateral unnest(c.conkey, c.confkey) k(child_att, parent_att)
      join pg_attribute ca on ca.attrelid = c.conrelid and ca.attnum = k.child_att
      join pg_attribute pa on pa.attrelid = c.confrelid and pa.attnum = k.parent_att
     where p_image is not null and c.contype = 'f' and c.conparentid = 0
       and p_rel = case when p_referenced then c.confrelid else c.conrelid end
     group by c.oid, c.confrelid, c.confdeltype
    -- A key with a NULL column references nothing (MATCH SIMPLE; MATCH FULL refuses it).
    having bool_and(coalesce(jsonb_typeof(p_image -> (case when p_referenced then pa.attname
                                                           else ca.attname end)::text),
                             'null') <> 'null')
$$;
REVOKE ALL ON FUNCTION warden.audit_fk_refs(p_rel regclass, p_image jsonb, p_referenced boolean) FROM PUBLIC;
