-- function warden.row_as_of(anyelement,jsonb,timestamp with time zone)
-- One row (at p_key) as it was at p_at, of the table's current type, its image in the
-- current column names, its generated columns computed.
CREATE OR REPLACE FUNCTION warden.row_as_of(p_row anyelement, p_key jsonb, p_at timestamp with time zone) RETURNS SETOF anyelement
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    rel regclass := (select t.typrelid from pg_type t where t.oid = pg_typeof(p_row))::regclass;
    tid int := warden.audit_table_id(rel::text);
    st record;
begin
    select f.present_before as present, f.row_before as row_data, f.at into st
      from warden.audit_facts(tid, p_key) f where f.at > p_at
     order by f.statement_id, f.phase, f.event_id limit 1;
    if found then
        if st.present then
            return next jsonb_populate_record(p_row, warden.audit_generated(
                warden.audit_rename_image(st.row_data, warden.audit_moves(tid, st.at)),
                warden.audit_generated_sql(tid, '$1', false)));
        end if;
        return;
    end if;
    return query execute format('select c.* from %s c where %s',
                                rel, warden.audit_key_where(tid, p_key, 'c'))
    using p_key;
end
$_$;
REVOKE ALL ON FUNCTION warden.row_as_of(p_row anyelement, p_key jsonb, p_at timestamp with time zone) FROM PUBLIC;
