-- Helpers the generated capture functions call.

-- A per-database secret for redaction: a redacted value is stored as a keyed hash, equal for
-- equal values (so changes still show) but not reversible by guessing common values.
create table warden.secrets (
    name  text primary key,
    value text not null
);
insert into warden.secrets values ('audit_redaction', md5(random()::text || clock_timestamp()::text)
                                                      || md5(random()::text || pg_backend_pid()));
revoke all on warden.secrets from public;

create function warden.audit_redact(p_row jsonb, p_columns text[]) returns jsonb
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select p_row || coalesce(jsonb_object_agg(c,
               'sha256:' || encode(sha256(convert_to(s.value || (p_row ->> c), 'UTF8')), 'hex')), '{}')
      from unnest(p_columns) c, warden.secrets s
     where s.name = 'audit_redaction' and p_row ->> c is not null
$$;

revoke all on all functions in schema warden from public;
