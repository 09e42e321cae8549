"""``pgwarden serve`` served for real: uvicorn in a thread on a free port, real HTTP and
WebSocket clients; a throwaway PostgreSQL of the tests' own for what stops a server."""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from pgwarden.server import EmbeddedServer

# As tests/conftest.py's: no durability needed for a throwaway cluster.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread for the block; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="pgwarden-serve-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmbeddedServer]:
    """A PostgreSQL of this module's own (pg_stat_statements preloaded), which tests may
    stop and start: never the shared test server."""
    home = Path(tempfile.mkdtemp(prefix="pgwarden-serve-"))
    server = EmbeddedServer(home / "pg")
    server.start(settings=FAST_SETTINGS)
    try:
        yield server
    finally:
        server.stop(mode="immediate")
        shutil.rmtree(home, ignore_errors=True)
