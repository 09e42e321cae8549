-- function warden.put_row(regclass,jsonb,boolean,jsonb)
-- Set the row at p_key to p_image (delete it when p_present is false). Columns absent from
-- the image (excluded or redacted ones) keep their current values on update.
CREATE OR REPLACE FUNCTION warden.put_row(p_rel regclass, p_key jsonb, p_present boolean, p_image jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    tid int := warden.audit_table_id(p_rel::text);
    -- Typed where it can be: the key index finds the row (a revert calls this per row).
    at_key text := warden.audit_key_where(tid, p_key, 'c');
    ins_cols text;
    upd_cols text;
    hidden text[] := warden.audit_hidden_names(tid);
    n int;
begin
    if not p_present then
        execute format('delete from %s c where %s', p_rel, at_key) using p_key;
        return;
    end if;
    select string_agg(format('%I', a.attname), ', ' order by a.attnum)
      into ins_cols
      from pg_attribute a
     where a.attrelid = p_rel and a.attnum > 0 and not a.attisdropped
       and a.attgenerated = '' and p_image ? a.attname
       and a.attname <> all (hidden);
    if ins_cols is null then
        raise exception 'pgwarden: no column of % in the recorded image', p_rel;
    end if;
    -- GENERATED ALWAYS identity columns cannot be SET; they are (part of) the key anyway.
    select string_agg(format('%I = r.%I', a.attname, a.attname), ', ' order by a.attnum)
      into upd_cols
      from pg_attribute a
     where a.attrelid = p_rel and a.attnum > 0 and not a.attisdropped
       and a.attgenerated = '' and a.attidentity <> 'a' and p_image ? a.attname
       and a.attname <> all (hidden);
    n := 0;
    if upd_cols is not null then
        execute format(
            'update %1$s c set %2$s from jsonb_populate_record(null::%1$s, $2) r where %3$s',
            p_rel, upd_cols, at_key) using p_key, p_image;
        get diagnostics n = row_count;
    else
        execute format('select count(*) from %s c where %s', p_rel, at_key)
           into n using p_key;
    end if;
    if n = 0 then
        execute format(
            'insert into %1$s (%2$s) overriding system value select %2$s '
            'from jsonb_populate_record(null::%1$s, $1)', p_rel, ins_cols) using p_image;
    end if;
end
$_$;
REVOKE ALL ON FUNCTION warden.put_row(p_rel regclass, p_key jsonb, p_present boolean, p_image jsonb) FROM PUBLIC;
