"""WS /live, the dashboard in real headless Chromium, and a server stopped under a running
serve, on a PostgreSQL of this module's own (started, stopped and started again here)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.serve.conftest import FAST_SETTINGS, serving
from tests.tools import require_tool
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from pgwarden import Warden
from pgwarden.api import ServeSection, create_app
from pgwarden.server import EmbeddedServer
from pgwarden.spec import parse_spec

TOKEN = "dashboard-token-for-tests"
AUTH = {"authorization": f"Bearer {TOKEN}"}
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
WINDOW = 8
SETTINGS = ServeSection(sample_every="250ms")  # the sampler's pace; 1 s by default
DOCS = Path(__file__).resolve().parents[2] / "docs" / "images"


HOSTILE = "<img src=x onerror=window.pwned=1>"
DECLARATION = '[tables."public.readings"]\naudit = true\n'


@pytest.fixture(scope="module")
def db(own_server: EmbeddedServer) -> str:
    url = own_server.status().url("postgres")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create extension if not exists pg_stat_statements")
        conn.execute("create table if not exists public.readings (v int)")  # no primary key
        conn.execute("insert into public.readings select generate_series(1, 1000)")
        # A hostile name: the dashboard must show it as text, never run it.
        conn.execute(f'create table if not exists public."{HOSTILE}" (id int primary key)')
    with Warden(url, spec=parse_spec(DECLARATION)) as warden:
        warden.apply()
        with warden.session(actor="user:7", reason="calibration") as session:
            session.execute("update public.readings set v = v + 1 where v <= 3")
    return url


@pytest.fixture(scope="module")
def base(db: str) -> Iterator[str]:
    warden = Warden(db, spec=parse_spec(DECLARATION))
    with serving(create_app(warden, settings=SETTINGS, token=TOKEN, close_warden=True)) as url:
        yield url


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/live"


def live(base: str, **kw: Any) -> ClientConnection:
    # A new viewer is first handed up to 30 kept samples: a client that stops reading with
    # more than max_queue frames unread stops reading its socket, and so misses the close reply.
    return connect(ws_url(base), additional_headers=AUTH, open_timeout=10, max_queue=64, **kw)


def next_sample(ws: ClientConnection, after: int = 0) -> dict[str, Any]:
    while True:
        sample = json.loads(ws.recv(timeout=15))
        if sample["seq"] > after:
            return sample


def sampler_calls(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select coalesce(sum(calls), 0) from pg_stat_statements "
            "where query like '%pgwarden:live-sample%'"
        ).fetchone()
    return int(row[0])


def statements_per_sample(base: str, db: str, viewers: int) -> tuple[float, set[int]]:
    """Sampler statements the database ran per sample broadcast, with ``viewers`` watching."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(live(base)) for _ in range(viewers)]
        connected = time.time()
        fresh = []
        for ws in sockets:  # skip the history a new viewer is handed first
            sample = next_sample(ws)
            while sample["t"] < connected:
                sample = next_sample(ws, sample["seq"])
            fresh.append(sample["seq"])
        start_seq = max(fresh)
        for ws in sockets:
            next_sample(ws, start_seq - 1)
        before = sampler_calls(db)
        seqs = {next_sample(ws, start_seq + WINDOW)["seq"] for ws in sockets}
        after = sampler_calls(db)
        return (after - before) / (min(seqs) - start_seq), seqs


def test_fifty_viewers_cost_the_database_what_one_does(base: str, db: str) -> None:
    one, _ = statements_per_sample(base, db, 1)
    fifty, seqs = statements_per_sample(base, db, 50)
    # One statement per sample, shared: 50 viewers run the sampler's statement as often as 1.
    # (± 1 statement over the window: the counters are read while the sampler runs.)
    assert one == pytest.approx(1.0, abs=1.01 / WINDOW)
    assert fifty == pytest.approx(1.0, abs=1.01 / WINDOW)
    assert max(seqs) - min(seqs) <= 1  # all 50 were handed the same samples


def test_live_samples_carry_what_the_dashboard_draws(base: str) -> None:
    with live(base) as ws:
        first = next_sample(ws)
        sample = next_sample(ws, first["seq"])
    assert sample["up"] is True and sample["role"] == "primary"
    assert sample["tps"] is not None and sample["tps"] >= 0
    assert set(sample) >= {"connections", "waits", "longest_xact", "lag_bytes", "top", "cache_hit"}


def test_live_needs_the_token(base: str) -> None:
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": f"Basic {TOKEN}"}):
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(base), additional_headers=headers, open_timeout=10)
        assert refused.value.response.status_code == 403  # closed before the handshake
    # What browsers do: the token in a subprotocol (they cannot set headers on a WebSocket).
    encoded = base64.urlsafe_b64encode(TOKEN.encode()).decode().rstrip("=")
    protocols = ["pgwarden.live", f"bearer.{encoded}"]
    with connect(ws_url(base), subprotocols=protocols, max_queue=64) as ws:
        assert ws.subprotocol == "pgwarden.live"
        assert json.loads(ws.recv(timeout=15))["up"] is True


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = require_tool("chromium", "/usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def open_dashboard(browser: Any, base: str, errors: list[str]) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/")
    return page


def test_dashboard_asks_for_the_token_then_shows_live_charts_and_findings(
    browser: Any, base: str, db: str, tmp_path: Path
) -> None:
    errors: list[str] = []
    page = open_dashboard(browser, base, errors)
    page.wait_for_selector("#login:not([hidden])")
    assert page.is_hidden("#main")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_selector("#main:not([hidden])")
    # Charts receive live samples (while the database has some work to show).
    with psycopg.connect(db, autocommit=True) as conn:
        for i in range(300):
            conn.execute("select count(*) from public.readings where v > %s", [i])
            if i % 30 == 0:
                conn.execute("update public.readings set v = v where v = %s", [i])
    page.wait_for_function("document.querySelector('#chart-tps').dataset.samples >= 8")
    assert page.get_attribute("body", "data-live") == "up"
    # Findings, tables and recent changes render.
    planted = page.wait_for_selector('#findings li[data-check="table.no_primary_key"]')
    assert "public.readings" in planted.inner_text()
    page.wait_for_selector("#tables tbody tr")
    assert "public.readings" in page.inner_text("#tables")
    assert HOSTILE in page.inner_text("#tables")  # shown as text
    assert page.evaluate("window.pwned") is None and page.query_selector("#tables img") is None
    page.wait_for_selector("#changes tbody tr")
    change = page.inner_text("#changes tbody tr:last-child")
    assert "user:7" in change and "calibration" in change and "update" in change
    health = httpx.get(f"{base}/api/health", headers=AUTH).json()
    shown = page.eval_on_selector_all("#findings li[data-check]", "els => els.length")
    assert shown == len(health["findings"]["items"])
    shot = tmp_path / "serve-dashboard.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("PGWARDEN_UPDATE_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        shutil.copy(shot, DOCS / "serve-dashboard.png")
    assert errors == []
    page.close()


def test_a_wrong_token_is_refused_in_the_browser(browser: Any, base: str) -> None:
    errors: list[str] = []
    page = open_dashboard(browser, base, errors)
    page.fill("#token", "not-the-token")
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error:text('refused')")
    assert page.is_hidden("#main")
    assert page.evaluate("window.pgwardenLive.samples") == 0
    page.close()


def _eventually(check: Callable[[], bool], seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_readyz_and_metrics_on_a_real_standby(
    own_server: EmbeddedServer, db: str, base: str, tmp_path: Path
) -> None:
    from pgwarden.server._system import bin_path

    standby = EmbeddedServer(tmp_path / "standby")
    standby.data_dir.mkdir()
    subprocess.run(
        [bin_path() / "pg_basebackup", "-D", standby.cluster_dir, "-R", "-X", "stream",
         "-c", "fast", "-d", db],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    status = standby.start(settings=FAST_SETTINGS)
    try:
        with serving(create_app(Warden(status.url()), close_warden=True)) as replica:
            # Caught up with an idle primary: lag 0 by position and by time, although the
            # last replayed transaction is old (what now() - replay timestamp gets wrong).
            with psycopg.connect(db, autocommit=True) as primary:
                primary.execute("create table lag_probe (v int)")
            body: dict[str, Any] = {}
            replayed = None
            with psycopg.connect(status.url(), autocommit=True) as conn:
                while body.get("lag_bytes") != 0 or replayed is None:
                    time.sleep(0.1)
                    answer = httpx.get(f"{replica}/readyz", params={"role": "replica"})
                    body = answer.json()
                    assert answer.status_code == 200, body
                    replayed = conn.execute("select to_regclass('lag_probe')").fetchone()[0]
                naive = conn.execute(
                    "select extract(epoch from now() - pg_last_xact_replay_timestamp())"
                ).fetchone()[0]
            assert body["role"] == "replica" and body["lag_seconds"] == 0.0
            assert naive > 0
            # Other tests write to the same cluster meanwhile: caught up again a moment later,
            # not at every instant.
            for bound in ("1B", "1ms"):
                assert _eventually(
                    lambda b=bound: (
                        httpx.get(f"{replica}/readyz", params={"max_lag": b}).status_code == 200
                    )
                ), bound
            wrong = httpx.get(f"{replica}/readyz", params={"role": "primary"})
            assert wrong.status_code == 503
            assert wrong.json()["reasons"] == ["the server is a replica, not a primary"]
            families = scrape(replica)
            assert families["pg_replication_is_replica"].samples[0].value == 1
            assert _eventually(
                lambda: scrape(replica)["pg_replication_lag_seconds"].samples[0].value == 0
            )
        # The primary lists the standby's replay distance.
        standbys = scrape(base)["pg_stat_replication_pg_wal_lsn_diff"].samples
        assert len(standbys) == 1 and standbys[0].value >= 0
    finally:
        standby.stop(mode="immediate")


def scrape(base: str) -> dict[str, Any]:
    text = httpx.get(f"{base}/metrics", timeout=30).text
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_stopping_the_server_under_serve_and_starting_it_again(
    browser: Any, base: str, own_server: EmbeddedServer
) -> None:
    errors: list[str] = []
    page = open_dashboard(browser, base, errors)
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_function("window.pgwardenLive.samples >= 1 && window.pgwardenLive.last.up")
    assert scrape(base)["pg_up"].samples[0].value == 1

    own_server.stop(mode="fast")
    down = scrape(base)  # the first scrape after the server went away
    assert down["pg_up"].samples[0].value == 0
    assert down["pg_exporter_last_scrape_error"].samples[0].value == 1
    stale = {
        n
        for n in down
        if n.startswith("pg_") and n not in ("pg_up", "pg_exporter_last_scrape_error")
    }
    assert stale == set()  # absent, not stale
    assert not {n for n in down if n.startswith("pgwarden_findings")}
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 503 and ready.json()["reachable"] is False
    assert httpx.get(f"{base}/healthz").status_code == 200  # the process itself is fine
    for path in ("/api/tables", "/api/changes"):
        refused = httpx.get(base + path, headers=AUTH)
        assert refused.status_code == 503 and refused.json()["error"] == "unavailable"
    health = httpx.get(f"{base}/api/health", headers=AUTH).json()
    assert health["server"]["reachable"] is False
    page.wait_for_selector("body[data-live=down]")
    assert page.is_visible("#down")

    own_server.start(settings={"fsync": "off"})
    page.wait_for_selector("body[data-live=up]", timeout=30_000)
    assert page.is_hidden("#down")
    assert scrape(base)["pg_up"].samples[0].value == 1
    assert httpx.get(f"{base}/readyz").status_code == 200
    assert "pg_stat_database_xact_commit" in scrape(base)
    page.close()
