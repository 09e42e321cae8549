"""Market data: bulk ingest of ticks by COPY in idempotent batches, one-minute bars, last prices.

A batch is the unit of safety: its rows and its line in ``trading.ingest_batches`` commit in
one transaction, so a batch is either wholly in or not at all, and a batch already in is
skipped when the same stream is sent again (after a crash, a retry, a replay). Rows are
streamed from the iterator or file straight into COPY: memory does not grow with the stream.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from decimal import Decimal
from typing import LiteralString

from psycopg import sql

from pgwarden.blueprints.trading.services._core import (
    REFUSALS,
    Core,
    Invalid,
    Row,
    rows,
    translate,
)

Tick = tuple[int, dt.datetime, int, Decimal | float | str, Decimal | float | str]
"""``(instrument_id, ts, seq, price, size)``; ``seq`` orders ticks of the same instant."""

DEFAULT_BATCH = 50_000


@dataclass(frozen=True)
class Ingested:
    """What an ingest did: batches written and skipped (already in), rows written."""

    batches: int
    skipped: int
    rows: int


class Market:
    """Ticks in, bars and prices out."""

    def __init__(self, core: Core):
        self.core = core

    def _known(self) -> frozenset[int]:
        with self.core.warden.pool.connection() as conn:
            return frozenset(
                r[0] for r in conn.execute("select instrument_id from trading.instruments")
            )

    def _batch(
        self,
        key: str,
        write: Callable[[object], tuple[int, object, object]],
        options: LiteralString = "",
    ) -> int | None:
        """One batch in one transaction: claim ``key`` in the ledger, COPY, record the count.
        Returns the rows written, None when the batch was in already. A row the database
        refuses refuses the batch (:class:`TradingError` naming the batch)."""
        copy_sql = sql.SQL(
            "copy trading.ticks (instrument_id, ts, seq, price, size) from stdin" + options
        )
        try:
            with self.core.warden.connect() as conn, conn.transaction():
                claimed = conn.execute(
                    "insert into trading.ingest_batches (batch_key, rows) values (%s, 0)"
                    " on conflict (batch_key) do nothing returning batch_key",
                    [key],
                ).fetchone()
                if claimed is None:
                    return None
                with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                    count, first, last = write(copy)
                conn.execute(
                    "update trading.ingest_batches set rows = %s, first_ts = %s, last_ts = %s"
                    " where batch_key = %s",
                    [count, first, last, key],
                )
        except REFUSALS as exc:
            refused = translate(exc)
            refused.message = f"batch {key}: {refused.message}"
            refused.args = (refused.message,)
            raise refused from exc
        self.core.counters.add("ingest_rows", count)
        return count

    def ingest(
        self,
        ticks: Iterable[Tick],
        *,
        key: str,
        batch_size: int = DEFAULT_BATCH,
        progress: Callable[[int], None] | None = None,
    ) -> Ingested:
        """COPY ``ticks`` into ``trading.ticks`` in batches of ``batch_size`` rows, batch
        ``n`` keyed ``"{key}:{n}"``. Send the same stream with the same ``key`` again after
        a failure: batches already in are skipped, the rest written, nothing twice. An
        unknown instrument id refuses its batch (:class:`Invalid`, naming the row) and
        leaves earlier batches in. ``progress(rows)`` after each batch.

        A batch's key is its position in the stream: send the *same* stream again; a stream
        whose content changed (a bad row removed) needs a new ``key``."""
        if batch_size < 1:
            raise Invalid("batch_size must be at least 1")
        known = self._known()
        stream = iter(ticks)
        written = skipped = total = 0
        for n in itertools.count():
            chunk = itertools.islice(stream, batch_size)
            head = next(chunk, None)
            if head is None:
                break
            batch = itertools.chain([head], chunk)

            def write(
                copy: object, batch: Iterator[Tick] = batch, n: int = n
            ) -> tuple[int, object, object]:
                count = 0
                first = last = None
                for count, tick in enumerate(batch, 1):
                    if tick[0] not in known:
                        raise Invalid(
                            f"batch {key}:{n}, row {count}: unknown instrument_id {tick[0]}"
                        )
                    copy.write_row(tick)  # type: ignore[attr-defined]
                    first = first or tick[1]
                    last = tick[1]
                return count, first, last

            done = self._batch(f"{key}:{n}", write)
            if done is None:
                skipped += 1
                for _ in batch:  # the batch is in already: pass over its rows
                    pass
            else:
                written += 1
                total += done
            if progress is not None:
                progress(total)
        return Ingested(written, skipped, total)

    def ingest_csv(
        self,
        source: Iterable[str],
        *,
        key: str,
        batch_size: int = DEFAULT_BATCH,
        workers: int = 1,
        progress: Callable[[int], None] | None = None,
    ) -> Ingested:
        """COPY a CSV stream of ``instrument_id,ts,seq,price,size`` lines (no header) in
        batches of ``batch_size`` lines, keyed and skipped as :meth:`ingest` does. The
        server parses the values; Python only splits the stream into batches and checks
        the instrument ids. The fast path of ``pgwarden trading ingest``.

        ``workers`` > 1 sends that many batches at once, each on its own connection (the
        server parses and indexes on as many cores); at most ``workers`` batches are held in
        memory. A refused batch then stops the stream, but batches already in flight may
        commit: send the stream again to complete it, as after any failure."""
        if batch_size < 1 or workers < 1:
            raise Invalid("batch_size and workers must be at least 1")
        known = {str(i) for i in self._known()}
        stream = iter(source)
        counts = {"written": 0, "skipped": 0, "rows": 0}
        lock = threading.Lock()

        def send(n: int, lines: list[str]) -> None:
            def write(copy: object) -> tuple[int, object, object]:
                for i, line in enumerate(lines, 1):
                    if line.split(",", 1)[0] not in known:
                        raise Invalid(f"batch {key}:{n}, line {i}: unknown instrument_id in "
                                      f"{line.strip()[:80]!r}")  # fmt: skip
                copy.write("".join(lines))  # type: ignore[attr-defined]
                return len(lines), lines[0].split(",")[1], lines[-1].split(",")[1]

            done = self._batch(f"{key}:{n}", write, " (format csv)")
            with lock:
                if done is None:
                    counts["skipped"] += 1
                else:
                    counts["written"] += 1
                    counts["rows"] += done
                rows_now = counts["rows"]
            if progress is not None:
                progress(rows_now)

        def batches() -> Iterator[tuple[int, list[str]]]:
            for n in itertools.count():
                lines = list(itertools.islice(stream, batch_size))  # one batch: bounded memory
                if not lines:
                    return
                yield n, lines

        if workers == 1:
            for n, lines in batches():
                send(n, lines)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="trading-ingest") as pool:
                pending: set[Future[None]] = set()
                for n, lines in batches():
                    if len(pending) >= workers:  # bounded: wait for one to finish
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for f in finished:
                            f.result()
                    pending.add(pool.submit(send, n, lines))
                for f in pending:
                    f.result()
        return Ingested(counts["written"], counts["skipped"], counts["rows"])

    def batches(self, prefix: str) -> list[Row]:
        """The ledger of batches whose key starts with ``prefix``, in key order."""
        with self.core.warden.pool.connection() as conn:
            return rows(
                conn,
                "select batch_key, rows, first_ts, last_ts, ingested_at"
                " from trading.ingest_batches where batch_key like %s order by batch_key",
                [prefix.replace("%", r"\%").replace("_", r"\_") + "%"],
            )

    def rollup(self, start: dt.datetime, end: dt.datetime) -> int:
        """(Re)compute one-minute bars from the ticks in ``[start, end)``; returns the bars
        written. Idempotent: a bar is replaced by its recomputation."""
        with self.core.warden.connect() as conn, conn.transaction():
            cur = conn.execute(
                "insert into trading.bars (instrument_id, bucket, open, high, low, close,"
                " volume, trades)"
                " select instrument_id, date_trunc('minute', ts),"
                " (array_agg(price order by ts, seq))[1], max(price), min(price),"
                " (array_agg(price order by ts desc, seq desc))[1], sum(size), count(*)"
                " from trading.ticks where ts >= %s and ts < %s group by 1, 2"
                " on conflict (instrument_id, bucket) do update set open = excluded.open,"
                " high = excluded.high, low = excluded.low, close = excluded.close,"
                " volume = excluded.volume, trades = excluded.trades",
                [start, end],
            )
            return cur.rowcount

    def bars(
        self, instrument_id: int, start: dt.datetime, end: dt.datetime, limit: int = 1000
    ) -> list[Row]:
        """One-minute bars of ``instrument_id`` in ``[start, end)``, oldest first (only the
        day partitions the range covers are read)."""
        with self.core.warden.pool.connection() as conn:
            return rows(
                conn,
                "select bucket, open, high, low, close, volume, trades from trading.bars"
                " where instrument_id = %s and bucket >= %s and bucket < %s"
                " order by bucket limit %s",
                [instrument_id, start, end, limit],
            )

    def last_prices(self, instrument_ids: Iterable[int]) -> dict[int, Decimal]:
        """The latest tick price of each instrument (those with ticks)."""
        ids = sorted(set(instrument_ids))
        if not ids:
            return {}
        with self.core.warden.pool.connection() as conn:
            found = conn.execute(
                "select i, (select price from trading.ticks t where t.instrument_id = i"
                " order by ts desc, seq desc limit 1) from unnest(%s::int[]) as i",
                [ids],
            ).fetchall()
        return {int(i): p for i, p in found if p is not None}
