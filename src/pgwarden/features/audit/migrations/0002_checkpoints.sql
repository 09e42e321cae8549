-- Table checkpoints (audit option checkpoint_every): the whole state of an audited table at a
-- time, so that as_of reads at most one checkpoint interval of changes instead of every
-- change since the time asked for. Each checkpoint's rows are a table of their own,
-- warden.audit_checkpoint__<checkpoint_id> (made by warden.audit_checkpoint_take in the same
-- transaction as its row here, dropped with it), with one column a<attnum> per column of the
-- audited table at the time: attribute numbers survive renames, and a dropped column's
-- number is never reused.
create table warden.audit_checkpoints (
    checkpoint_id bigint generated always as identity primary key,
    table_id      int not null,
    relid         oid not null,
    at            timestamptz not null,
    snapshot      pg_snapshot not null,
    taken_at      timestamptz not null default clock_timestamp(),
    complete      boolean not null default false,
    rows          bigint not null default 0,
    bytes         bigint not null default 0
);
create index audit_checkpoints_table on warden.audit_checkpoints (table_id, at);
comment on table warden.audit_checkpoints is
    'Checkpoints of audited tables (option checkpoint_every): rows of warden.audit_checkpoint__'
    '<checkpoint_id> are the table (relation relid) as it was at at, read in snapshot '
    'snapshot. complete: usable by as_of (a table captured from the WAL completes once every '
    'transaction visible in snapshot is ingested).';
revoke all on warden.audit_checkpoints from public;
