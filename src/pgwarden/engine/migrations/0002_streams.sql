-- Version streams (pgwarden.engine._streams): warden.migrations records each owner's versions.
-- A database from before streams has versions 1-24 of one stream: version 1 (the ledger) is
-- the engine's, the rest become stream 'legacy', which the features' baselines stand for.
alter table warden.migrations add column if not exists stream text not null default 'engine';
update warden.migrations set stream = 'legacy' where stream = 'engine' and version > 1;
alter table warden.migrations drop constraint migrations_pkey,
    add primary key (stream, version);

-- Secrets per database, by name, each added by the stream that uses it (never readable by
-- application roles): audit's redaction key, soft delete's hard-delete token...
create table if not exists warden.secrets (
    name  text primary key,
    value text not null
);
revoke all on warden.secrets from public;

-- One row per maintenance job run by the worker (or maintain): the worker decides what is due
-- from here, so two workers, or a worker restarted, agree on the last run.
create table if not exists warden.maintenance_runs (
    run_id      bigint generated always as identity primary key,
    job         text not null,
    table_name  text,
    started_at  timestamptz not null,
    finished_at timestamptz not null,
    rows        bigint not null,
    detail      text not null default '',
    ok          boolean not null,
    pid         int not null default pg_backend_pid(),
    host        text
);
create index if not exists maintenance_runs_job
    on warden.maintenance_runs (job, table_name, started_at desc);
comment on table warden.maintenance_runs is
    'Each maintenance job run (job, table, start, end, rows, success, backend pid).';
revoke all on warden.maintenance_runs from public;
