-- function warden.audit_track_columns()
-- The event trigger's function: after each ALTER TABLE, the audited tables it touched get
-- their renamed, dropped and added columns recorded, dated now. Never fails the user's
-- ALTER TABLE: an error becomes a WARNING (the plan then shows the registration altered,
-- and the next apply records the names; see docs/audit.md). SECURITY DEFINER: the table's
-- owner needs no privilege on the store.
CREATE OR REPLACE FUNCTION warden.audit_track_columns() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    touched oid[];
begin
    select array_agg(distinct d.objid) into touched
      from pg_event_trigger_ddl_commands() d
     where d.classid = 'pg_class'::regclass;
    if touched is null
       or not exists (select 1 from warden.audit_tables t
                       where t.relid = any(touched) and t.dropped_at is null) then
        return;
    end if;
    perform warden.audit_record_columns(touched, clock_timestamp());
exception when others then
    raise warning 'pgwarden: could not record the column names of an audited table: %', sqlerrm
        using hint = 'time travel to before this ALTER TABLE may show renamed columns as NULL '
                     'until pgwarden apply records the names again';
end
$$;
REVOKE ALL ON FUNCTION warden.audit_track_columns() FROM PUBLIC;
