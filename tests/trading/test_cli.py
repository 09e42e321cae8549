"""``pgwarden trading generate | ingest`` and ``pgwarden demo <blueprint>``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.trading.conftest import scalar, tick_csv
from typer.testing import CliRunner

from pgwarden.cli import app as cli

ENV = {"COLUMNS": "200"}


def test_generate_then_ingest_a_file_twice(trading_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(cli, ["--database-url", trading_url, "trading", "generate", "--json",
                               "--instruments", "3", "--accounts", "2", "--days", "2",
                               "--ticks-per-day", "100", "--orders", "20"], env=ENV)  # fmt: skip
    assert made.exit_code == 0, made.output
    counts = json.loads(made.output[made.output.index("{") :])
    assert counts["ticks"] == 600 and counts["orders"] == 20
    assert scalar(trading_url, "select count(*) from trading.ticks") == 600
    assert scalar(trading_url, "select count(*) from trading.bars") > 0
    # Every fill moved its position (the generator went through the services).
    assert scalar(trading_url, "select count(*) from trading.executions") == counts["fills"]

    feed = tmp_path / "feed.csv"
    feed.write_text(tick_csv(1, 250, first_seq=100_000))
    args = ["--database-url", trading_url, "trading", "ingest", str(feed), "--batch-size", "100",
            "--json"]  # fmt: skip
    first = runner.invoke(cli, args, env=ENV)
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["rows"] == 250
    second = runner.invoke(cli, args, env=ENV)
    assert json.loads(second.output) | {"seconds": 0} == {"batches": 0, "skipped": 3, "rows": 0,
                                                          "seconds": 0}  # fmt: skip
    assert scalar(trading_url, "select count(*) from trading.ticks") == 850

    bad = tmp_path / "bad.csv"
    bad.write_text("42,2026-03-02T00:00:00Z,1,1.00,1\n")
    refused = runner.invoke(cli, ["--database-url", trading_url, "trading", "ingest", str(bad)],
                            env=ENV)  # fmt: skip
    assert refused.exit_code == 1 and "unknown instrument_id" in refused.output
    missing = runner.invoke(cli, ["--database-url", trading_url, "trading", "ingest",
                                  str(tmp_path / "nope.csv")], env=ENV)  # fmt: skip
    assert missing.exit_code == 2


def test_demo_names_its_blueprint() -> None:
    result = CliRunner().invoke(cli, ["demo", "nope"], env=ENV)
    assert result.exit_code == 2
    assert (
        "no blueprint 'nope'" in result.output
        and "kitaab, nodes, trading, workspace" in result.output
    )
    helped = CliRunner().invoke(cli, ["demo", "--help"], env=ENV)
    assert "[BLUEPRINT]" in helped.output.upper()


def test_demo_trading_checks_its_api(trading_url: str) -> None:
    """``pgwarden demo trading --check``: install (already done: a second install changes
    nothing), generate, an order's story, then the API served and asked, and stopped."""
    result = CliRunner().invoke(
        cli, ["--database-url", trading_url, "demo", "trading", "--check", "--port", "0"], env=ENV
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "Trading schema migrated" in out
    assert "sent again with the same key: same order" in out
    assert "v1 insert by account:" in out and "(fill) changed: filled_quantity, status" in out
    assert "API check: ok" in out


def test_install_then_serve_from_a_shell(trading_url: str) -> None:
    """``pgwarden trading install`` (again: nothing changes) and ``pgwarden trading serve``
    as a user runs them: the API answers, with pgwarden's health and the live metrics."""
    installed = CliRunner().invoke(cli, ["--database-url", trading_url, "trading", "install"],
                                   env=ENV)  # fmt: skip
    assert installed.exit_code == 0, installed.output
    assert "trading installed" in installed.output
    assert scalar(trading_url, "select count(*) from pg_constraint where contype = 'f' "
                  "and confdeltype = 'c' and connamespace = 'trading'::regnamespace") == 0  # fmt: skip

    program = Path(sys.executable).with_name("pgwarden")
    server = subprocess.Popen(
        [str(program), "--database-url", trading_url, "trading", "serve", "--port", "0",
         "--pool-size", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **ENV, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert server.stdout is not None
        base = None
        for line in server.stdout:  # the address it prints once serving
            found = re.search(r"trading API\S*: (http://127\.0\.0\.1:\d+)", line)
            if found:
                base = found.group(1)
                break
        assert base, "serve never printed its address"
        with httpx.Client(base_url=base, timeout=30) as http:
            for _ in range(100):  # the address is printed just before uvicorn listens
                try:
                    health = http.get("/health")
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            assert health.status_code == 200 and health.json()["status"] == "ok"
            assert http.get("/pgwarden/healthz").status_code == 200
            assert "pgwarden_trading_pool_pool_max 2" in http.get("/metrics").text
    finally:
        server.terminate()
        server.wait(timeout=30)
