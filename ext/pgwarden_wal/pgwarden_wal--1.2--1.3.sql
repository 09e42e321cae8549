-- pgwarden_wal 1.3: tenancy's signed tenant verified in C (warden_wal.tenant).
\echo Use "ALTER EXTENSION pgwarden_wal UPDATE" to load this file. \quit

create function warden_wal.tenant() returns text
language c stable parallel restricted
as 'MODULE_PATHNAME', 'pgwarden_tenant';
comment on function warden_wal.tenant() is
    'pgwarden tenancy: pgwarden.tenant when pgwarden.tenant_mac is its HMAC-SHA256 under the '
    'tenancy key (warden.secrets) bound to this backend and transaction, else NULL; verified '
    'once per transaction and claim. Reads the key as the server does, with no privilege '
    'asked of the caller and nothing of it told.';
