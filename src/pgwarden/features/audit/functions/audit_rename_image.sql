-- function warden.audit_rename_image(jsonb,jsonb)
-- An image in the current names: every name in p_moves the image has is taken out, and its
-- value put back under the column's current name (dropped: not at all). Keys the image does
-- not have are left alone, so an image already in newer names (captured while a rename was
-- not yet recorded) stays as it is. Attribute-number based: chains (v -> label -> title),
-- renames back, swaps and a rename to a name a dropped column once had all come out right.
CREATE OR REPLACE FUNCTION warden.audit_rename_image(p_image jsonb, p_moves jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select case when p_moves is null or p_image is null then p_image
           else (p_image - array(select jsonb_object_keys(p_moves)))
                || coalesce((select jsonb_object_agg(m.value #>> '{}', p_image -> m.key)
                               from jsonb_each(p_moves) m
                              where p_image ? m.key and jsonb_typeof(m.value) = 'string'),
                            '{}')
           end
$$;
REVOKE ALL ON FUNCTION warden.audit_rename_image(p_image jsonb, p_moves jsonb) FROM PUBLIC;
