"""Trading schema as the seed found it: instruments, accounts, orders, executions, positions,
market data (ticks, one-minute bars) and the ingest ledger.

Revision ID: 0001
Revises:
Create Date: 2026-12-06

Deliberately the seed's starting point, so that its two Phase-1 levers can be done on real
evidence rather than assumed:

- **over-indexed** write tables (``orders``, ``executions``): an index per column someone once
  filtered on, a copy of the idempotency key's unique index, prefixes of composite indexes.
  ``pgwarden doctor`` finds the duplicate / redundant / unused ones under the read workload and
  ``--fix`` drops them (bench/trading.py measures the INSERT gain);
- **ON DELETE CASCADE** keys into tables that keep history (orders → accounts, executions →
  orders, positions → accounts): ``trading.install`` converts them to RESTRICT online
  (``warden.soft_delete.restrict_foreign_key``), as ``pgwarden foreign-keys`` does.

Money and quantities are ``numeric``: exact (bench/trading.py compares float8 and scaled
bigint). Market data has no foreign key to instruments (a per-row RI check halves COPY speed):
the ingest path checks instrument ids per batch instead. ``ticks`` and ``bars`` are range
partitioned by day of ``ts`` / ``bucket``; the ``partition`` feature owns the partitions.
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
create type trading.order_side as enum ('buy', 'sell');
create type trading.order_type as enum ('limit', 'market');
create type trading.order_status as enum ('new', 'partially_filled', 'filled', 'cancelled');

create table trading.instruments (
    instrument_id  serial primary key,
    symbol         varchar(32) not null,
    name           text not null default '',
    tick_size      numeric(18, 8) not null default 0.01,
    lot_size       numeric(18, 8) not null default 1,
    currency       char(3) not null default 'USD',
    is_active      boolean not null default true,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    constraint instruments_symbol_key unique (symbol),
    constraint instruments_symbol_format check (symbol ~ '^[A-Z0-9][A-Z0-9._/-]{0,31}$'),
    constraint instruments_tick_size_positive check (tick_size > 0),
    constraint instruments_lot_size_positive check (lot_size > 0)
);

create table trading.accounts (
    account_id     bigserial primary key,
    name           varchar(255) not null,
    cash           numeric not null default 0,
    initial_cash   numeric not null default 0,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    constraint accounts_name_present check (length(btrim(name)) > 0),
    constraint accounts_initial_cash_not_negative check (initial_cash >= 0)
);

create table trading.orders (
    order_id         bigserial primary key,
    account_id       bigint not null references trading.accounts on delete cascade,
    instrument_id    integer not null references trading.instruments on delete cascade,
    client_order_id  varchar(64) not null,
    side             trading.order_side not null,
    type             trading.order_type not null default 'limit',
    price            numeric(18, 8),
    quantity         numeric(18, 8) not null,
    filled_quantity  numeric(18, 8) not null default 0,
    status           trading.order_status not null default 'new',
    request_hash     text not null,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint orders_idempotency_key unique (account_id, client_order_id),
    constraint orders_quantity_positive check (quantity > 0),
    constraint orders_price_positive check (price > 0),
    constraint orders_limit_has_price check ((type = 'limit') = (price is not null)),
    constraint orders_fill_within_quantity
        check (filled_quantity >= 0 and filled_quantity <= quantity),
    constraint orders_status_matches_fill check (
        (status = 'filled') = (filled_quantity = quantity)
        and (status <> 'new' or filled_quantity = 0))
);
-- The seed's over-indexing (see the module docstring): what doctor will judge.
create index idx_orders_account_id on trading.orders (account_id);
create index idx_orders_account_created on trading.orders (account_id, created_at desc);
create index idx_orders_instrument_id on trading.orders (instrument_id);
create index idx_orders_book on trading.orders (instrument_id, side, price)
    where status in ('new', 'partially_filled');
create index idx_orders_status on trading.orders (status);
create index idx_orders_created_at on trading.orders (created_at);
create index idx_orders_updated_at on trading.orders (updated_at);
create index idx_orders_client_order_id on trading.orders (account_id, client_order_id);
create index idx_orders_side on trading.orders (side);

create table trading.executions (
    execution_id   bigserial primary key,
    order_id       bigint not null references trading.orders on delete cascade,
    account_id     bigint not null,
    instrument_id  integer not null,
    side           trading.order_side not null,
    quantity       numeric(18, 8) not null,
    price          numeric(18, 8) not null,
    executed_at    timestamptz not null default now(),
    constraint executions_quantity_positive check (quantity > 0),
    constraint executions_price_positive check (price > 0)
);
create index idx_executions_order_id on trading.executions (order_id);
create index idx_executions_account_id on trading.executions (account_id);
create index idx_executions_account_time on trading.executions (account_id, executed_at desc);
create index idx_executions_instrument_id on trading.executions (instrument_id);
create index idx_executions_executed_at on trading.executions (executed_at);
create index idx_executions_order_id_copy on trading.executions (order_id);

create table trading.positions (
    account_id     bigint not null references trading.accounts on delete cascade,
    instrument_id  integer not null references trading.instruments,
    quantity       numeric not null default 0,
    -- Signed notional of every fill (buys +, sells -): P&L = quantity * mark - cost, exact.
    cost           numeric not null default 0,
    updated_at     timestamptz not null default now(),
    primary key (account_id, instrument_id)
);
create index idx_positions_instrument_id on trading.positions (instrument_id);

create table trading.ticks (
    instrument_id  integer not null,
    ts             timestamptz not null,
    seq            bigint not null,
    price          numeric(18, 8) not null,
    size           numeric(18, 8) not null,
    constraint ticks_pkey primary key (instrument_id, ts, seq),
    constraint ticks_price_positive check (price > 0),
    constraint ticks_size_not_negative check (size >= 0)
) partition by range (ts);

create table trading.bars (
    instrument_id  integer not null,
    bucket         timestamptz not null,
    open           numeric(18, 8) not null,
    high           numeric(18, 8) not null,
    low            numeric(18, 8) not null,
    close          numeric(18, 8) not null,
    volume         numeric not null,
    trades         integer not null,
    constraint bars_pkey primary key (instrument_id, bucket),
    constraint bars_range check (low <= open and low <= close and high >= open
                                 and high >= close)
) partition by range (bucket);

-- One row per ingested batch, written in the batch's own transaction: a batch is in once.
create table trading.ingest_batches (
    batch_key    varchar(200) primary key,
    rows         integer not null,
    first_ts     timestamptz,
    last_ts      timestamptz,
    ingested_at  timestamptz not null default now()
);
"""

DOWNGRADE = r"""
drop table if exists trading.ingest_batches, trading.bars, trading.ticks, trading.positions,
    trading.executions, trading.orders, trading.accounts, trading.instruments cascade;
drop type if exists trading.order_status, trading.order_type, trading.order_side;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
