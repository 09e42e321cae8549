-- Erasures of personal data from the history (warden.audit_erase): what was erased, of which
-- row, by whom and why, but never the values. A restore from a backup taken before an
-- erasure brings the values back; this table says what to erase again.
create table warden.audit_erasures (
    erasure_id  bigint generated always as identity primary key,
    table_id    int not null,
    row_keys    jsonb not null,
    columns     text[] not null,
    events      bigint not null,
    checkpoint_rows bigint not null,
    erased_at   timestamptz not null default now(),
    txid        xid8 not null default pg_current_xact_id(),
    login_role  text not null default session_user,
    actor       text default nullif(current_setting('pgwarden.actor', true), ''),
    reason      text default nullif(current_setting('pgwarden.reason', true), '')
);
comment on table warden.audit_erasures is
    'Erasures of columns of one row from the audit history (warden.audit_erase): the row''s '
    'keys (every key it had), the columns (every name they had), how many events and '
    'checkpoint rows were rewritten, by whom and why. Never the values.';
revoke all on warden.audit_erasures from public;
