-- baseline: legacy 24
-- Partition maintenance's state (single-stream migration 0012 before streams).

-- Partitions retention took out of their table: what was done, and whether the archive
-- hand-over finished (a run killed between the detach and the archive resumes it).
create table warden.partition_detached (
    partition_schema text not null,
    partition_name   text not null,
    parent_schema    text not null,
    parent_name      text not null,
    mode             text not null check (mode in ('detach', 'drop', 'archive')),
    detached_at      timestamptz not null default now(),
    done_at          timestamptz,
    rows             bigint,
    primary key (partition_schema, partition_name, detached_at)
);
comment on table warden.partition_detached is
    'One row per partition removed by partition retention; done_at is null while an archive '
    'hand-over is pending.';

-- A table being converted to a partitioned one: enough to resume after a crash.
create table warden.partition_conversions (
    relid        oid primary key,
    table_schema text not null,
    table_name   text not null,
    shadow_name  text not null,
    log_name     text not null,
    key_columns  text[] not null,
    state        text not null check (state in ('copying', 'catching_up', 'done')),
    last_key     jsonb,
    copied       bigint not null default 0,
    started_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);
comment on table warden.partition_conversions is
    'Conversions of plain tables to partitioned ones in progress: the shadow table, the change '
    'log, the key copied last (copy is resumed after it).';

revoke all on warden.partition_detached, warden.partition_conversions from public;
