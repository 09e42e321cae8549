"""Bulk ingest: a batch is wholly in or not at all; a killed ingest, run again, loses and
duplicates nothing; a bad row refuses its batch only; memory does not grow with the stream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest
from tests.trading.conftest import T0, scalar, tick_csv

from pgwarden.blueprints.trading.services import Invalid, Trading

BATCH = 2_000
BATCHES = 30

# The ingest as its own process: the same stream every run (deterministic), a short pause
# inside each batch so that the kill lands in the middle of one.
SCRIPT = textwrap.dedent("""
    import sys, time
    from pgwarden import Warden
    from pgwarden.blueprints import trading
    from pgwarden.blueprints.trading.services import Trading
    from tests.trading.conftest import tick_csv

    url, iid, slow = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "slow"
    lines = tick_csv(iid, {total}).splitlines(keepends=True)

    def stream():
        for n, line in enumerate(lines):
            if slow and n % {batch} == {batch} // 2:
                time.sleep(0.2)  # mid-batch: the COPY is open
            yield line

    app = Trading(Warden(url, spec=trading.declaration()))
    print(app.market.ingest_csv(stream(), key="feed", batch_size={batch}), flush=True)
    app.warden.close()
""").format(total=BATCH * BATCHES, batch=BATCH)


def _run(url: str, iid: int, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, url, str(iid), mode], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_killed_ingest_loses_and_duplicates_nothing(
    app: Trading, trading_url: str, desk: dict[str, int]
) -> None:
    proc = _run(trading_url, desk["aaa"], "slow")
    try:
        deadline = time.monotonic() + 60
        while scalar(trading_url, "select count(*) from trading.ingest_batches") < 3:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the ingest made no progress"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    done = scalar(trading_url, "select count(*) from trading.ingest_batches")
    assert 3 <= done < BATCHES  # killed midway
    # Only whole batches are in: exactly the ledger's rows, none of the batch in flight.
    ticks = scalar(trading_url, "select count(*) from trading.ticks")
    assert (
        ticks == done * BATCH == scalar(trading_url, "select sum(rows) from trading.ingest_batches")
    )

    again = _run(trading_url, desk["aaa"], "fast")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert f"batches={BATCHES - done}, skipped={done}" in out
    assert scalar(trading_url, "select count(*) from trading.ticks") == BATCH * BATCHES
    assert scalar(trading_url, "select count(distinct seq) from trading.ticks") == BATCH * BATCHES
    assert scalar(trading_url, "select count(*) from trading.ingest_batches") == BATCHES


def test_a_bad_row_refuses_its_batch_only(
    app: Trading, desk: dict[str, int], trading_url: str
) -> None:
    good = tick_csv(desk["aaa"], 250).splitlines(keepends=True)
    bad = [*good[:120], "999,2026-03-02T00:00:01Z,9999,1.00,1\n", *good[120:]]
    with pytest.raises(Invalid, match=r"batch feed:1, line 21: unknown instrument_id"):
        app.market.ingest_csv(iter(bad), key="feed", batch_size=100)
    assert scalar(trading_url, "select count(*) from trading.ticks") == 100  # batch 0 only
    assert [b["batch_key"] for b in app.market.batches("feed")] == ["feed:0"]
    # A row the database refuses (a negative price) also takes only its batch with it.
    with pytest.raises(Invalid, match=r"batch rows:1: a tick.s price must be positive"):
        app.market.ingest([(desk["aaa"], T0, 10_001, 1, 1), (desk["aaa"], T0, 10_002, -1, 1)],
                          key="rows", batch_size=1)  # fmt: skip
    assert scalar(trading_url, "select count(*) from trading.ticks where seq in (10001, 10002) "
                  "and ts = %s", [T0]) == 1  # fmt: skip


def test_an_exception_mid_stream_keeps_whole_batches(
    app: Trading, desk: dict[str, int], trading_url: str
) -> None:
    def stream() -> Iterator[str]:
        lines = tick_csv(desk["aaa"], 1000).splitlines(keepends=True)
        yield from lines[:650]
        raise ConnectionError("feed lost")

    with pytest.raises(ConnectionError):
        app.market.ingest_csv(stream(), key="f", batch_size=200)
    assert scalar(trading_url, "select count(*) from trading.ticks") == 600
    result = app.market.ingest_csv(iter(tick_csv(desk["aaa"], 1000).splitlines(keepends=True)),
                                   key="f", batch_size=200)  # fmt: skip
    assert (result.batches, result.skipped, result.rows) == (2, 3, 400)
    assert scalar(trading_url, "select count(distinct seq) from trading.ticks") == 1000


def test_row_path_streams_a_generator(app: Trading, desk: dict[str, int], trading_url: str) -> None:
    """``ingest`` takes any iterator and never materialises it: a generator of 20,000 rows goes
    through with batches of 1,000, and the generator is consumed exactly once."""
    consumed = 0

    def rows() -> Iterator[tuple[int, object, int, str, str]]:
        nonlocal consumed
        for k in range(20_000):
            consumed += 1
            yield (desk["aaa"], T0, k, "10.00", "1")

    result = app.market.ingest(rows(), key="gen", batch_size=1_000)
    assert (result.batches, result.rows, consumed) == (20, 20_000, 20_000)
    assert scalar(trading_url, "select count(*) from trading.ticks") == 20_000


def test_parallel_batches_are_idempotent_too(
    app: Trading, desk: dict[str, int], trading_url: str
) -> None:
    lines = tick_csv(desk["aaa"], 2_000).splitlines(keepends=True)

    def lost() -> Iterator[str]:
        yield from lines[:1_600]
        raise ConnectionError("feed lost")

    with pytest.raises(ConnectionError):
        app.market.ingest_csv(lost(), key="p", batch_size=250, workers=3)
    partial = scalar(trading_url, "select count(*) from trading.ticks")
    in_ledger = scalar(trading_url, "select coalesce(sum(rows), 0) from trading.ingest_batches")
    assert partial == in_ledger and partial % 250 == 0 and partial <= 1_500  # whole batches
    done = app.market.ingest_csv(iter(lines), key="p", batch_size=250, workers=3)
    assert done.skipped == partial // 250 and done.rows == 2_000 - partial
    assert scalar(trading_url, "select count(distinct seq) from trading.ticks") == 2_000
    assert scalar(trading_url, "select count(*) from trading.ticks") == 2_000
