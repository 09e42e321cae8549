"""The trading figures on pgwarden's own live view (``WS /live`` and the dashboard of
``pgwarden serve``, and of the trading app at ``/pgwarden``): a :class:`LiveSource` registered
under ``pgwarden.live``.

Read from the database, so any process serving it shows them, whichever process writes:
orders, fills and market-data rows inserted (``pg_stat_user_tables``, as rates per second:
counted when each writing transaction's statistics reach the server, at most a second
later), and the market-data partitions' size and count. In a database without the trading
schema the source has nothing to show and is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from pgwarden.api import LiveSource

SERIES_SQL = """
select /* pgwarden:live-trading */ to_regclass('trading.orders') is not null as present,
       (select n_tup_ins from pg_stat_user_tables
         where relid = to_regclass('trading.orders')) as orders,
       (select n_tup_ins from pg_stat_user_tables
         where relid = to_regclass('trading.executions')) as fills,
       (select sum(s.n_tup_ins) from pg_partition_tree(to_regclass('trading.ticks')) t
          join pg_stat_user_tables s on s.relid = t.relid) as ticks,
       (select sum(s.n_tup_ins) from pg_partition_tree(to_regclass('trading.bars')) t
          join pg_stat_user_tables s on s.relid = t.relid) as bars,
       (select sum(pg_total_relation_size(t.relid))
          from pg_partition_tree(to_regclass('trading.ticks')) t where t.isleaf) as ticks_bytes,
       (select sum(pg_total_relation_size(t.relid))
          from pg_partition_tree(to_regclass('trading.bars')) t where t.isleaf) as bars_bytes,
       (select count(*) from (select relid from pg_partition_tree(to_regclass('trading.ticks'))
                              union all
                              select relid from pg_partition_tree(to_regclass('trading.bars'))) t
         where t.relid not in (to_regclass('trading.ticks'), to_regclass('trading.bars'))
       ) as partitions
"""


async def read(conn: psycopg.AsyncConnection[Any]) -> Mapping[str, float | None] | None:
    """The current totals and sizes (None: no trading schema in this database)."""
    cur = await conn.execute(SERIES_SQL)
    row = await cur.fetchone()
    if row is None or not row[0]:
        return None
    orders, fills, ticks, bars, ticks_bytes, bars_bytes, partitions = row[1:]
    return {
        "orders": orders,
        "fills": fills,
        "ingest rows": (ticks or 0) + (bars or 0),
        "ticks size": ticks_bytes,
        "bars size": bars_bytes,
        "partitions": partitions,
    }


LIVE = LiveSource(
    name="trading",
    title="Trading",
    read=read,
    counters=frozenset({"orders", "fills", "ingest rows"}),
    units={
        "orders": "/s",
        "fills": "/s",
        "ingest rows": "/s",
        "ticks size": "bytes",
        "bars size": "bytes",
    },
)
