-- Who owned each object before the [roles] owner role took it, so that removing [roles] gives
-- each back exactly (objects by oid: a rename does not lose the record).
create table warden.role_previous_owners (
    schema_name    text not null,
    classid        oid not null,
    objid          oid not null,
    previous_owner text not null,
    taken_at       timestamptz not null default now(),
    primary key (classid, objid)
);
revoke all on warden.role_previous_owners from public;
comment on table warden.role_previous_owners is
    'Objects of the declared schemas whose ownership pgwarden gave to the [roles] owner role, '
    'and who owned them before: removing [roles] gives each back.';
