"""The embedded server against real PostgreSQL binaries: lifecycle, crash recovery, URLs."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgwarden.errors import ServerError
from pgwarden.server import EmbeddedServer, ServerStatus, bin_path, default_data_dir

FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A folder outside pytest's own: pytest puts /tmp/pytest-of-<user> back to mode 0700
    whenever a pytest session starts on the machine, and the server's user (root runs
    PostgreSQL as another) could then no longer reach a data directory below it."""
    path = Path(tempfile.mkdtemp(prefix="pgwarden-srv-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def srv_server(private_dir: Path) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(private_dir / ".pgwarden")
    yield server
    server.stop(mode="immediate")


def _select_one(url: str) -> int:
    with psycopg.connect(url, connect_timeout=10) as conn:
        row = conn.execute("select 1").fetchone()
    assert row is not None
    return int(row[0])


def _wait_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return
        if not cmdline:  # a zombie nobody reaps: dead for our purpose
            return
        time.sleep(0.05)
    raise AssertionError(f"pid {pid} still alive")


def test_srv_defaults() -> None:
    assert default_data_dir() == Path.cwd() / ".pgwarden"
    assert EmbeddedServer().data_dir == Path.cwd() / ".pgwarden"
    assert (bin_path() / "pg_dump").is_file()
    assert (bin_path() / "pgbench").is_file()


def test_srv_not_created(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "nothing")
    status = server.status()
    assert status == ServerStatus(
        running=False,
        pid=None,
        data_dir=tmp_path / "nothing",
        port=None,
        socket_dir=None,
        version=None,
        log_file=tmp_path / "nothing" / "server.log",
    )
    assert server.stop().running is False
    assert not (tmp_path / "nothing").exists()
    with pytest.raises(ServerError, match="not running"):
        status.url()


def test_srv_lifecycle(srv_server: EmbeddedServer) -> None:
    status = srv_server.start(settings={**FAST, "cluster_name": 'it\'s "quoted" $HOME'})
    assert status.running and status.pid and status.port
    assert status.version is not None and status.version.startswith("18")
    assert status.socket_dir == srv_server.data_dir
    assert status.log_file == srv_server.data_dir / "server.log"
    assert (srv_server.data_dir / "data" / "PG_VERSION").is_file()
    assert srv_server.status() == status

    with psycopg.connect(status.url(), connect_timeout=10) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        preload = conn.execute("show shared_preload_libraries").fetchone()
        assert preload is not None and "pg_stat_statements" in preload[0]
        track = conn.execute("show pg_stat_statements.track").fetchone()
        assert track == ("all",)
        # Audit's capture = "auto" takes the WAL on the embedded server.
        assert conn.execute("show wal_level").fetchone() == ("logical",)
        assert conn.execute("show fsync").fetchone() == ("off",)
        assert conn.execute("show cluster_name").fetchone() == ('it\'s "quoted" $HOME',)
        conn.execute("create table srv_kept (id int)")

    again = srv_server.start(settings=FAST)
    assert again.pid == status.pid and again.port == status.port
    assert srv_server.ensure_running().pid == status.pid

    stopped = srv_server.stop()
    assert not stopped.running and stopped.pid is None and stopped.port is None
    assert not srv_server.status().running
    assert srv_server.stop().running is False  # no-op

    restarted = srv_server.start(settings=FAST)
    assert restarted.running and restarted.pid != status.pid
    assert restarted.port == status.port  # free again, so the URL stays the same
    with psycopg.connect(restarted.url(), connect_timeout=10) as conn:
        assert conn.execute("select count(*) from srv_kept").fetchone() == (0,)


def test_srv_urls(srv_server: EmbeddedServer) -> None:
    status = srv_server.ensure_running(settings=FAST)
    assert status.url() == f"postgresql://postgres@127.0.0.1:{status.port}/postgres"
    assert status.url("template1").endswith(f":{status.port}/template1")
    assert status.socket_url() == (
        f"postgresql://postgres@/postgres?host={status.socket_dir}&port={status.port}"
    )
    assert _select_one(status.url()) == 1
    assert _select_one(status.socket_url("template1")) == 1
    with psycopg.connect(status.socket_url(), connect_timeout=10) as conn:
        assert conn.info.host == str(status.socket_dir)
    with psycopg.connect(status.url(), connect_timeout=10) as conn:
        assert conn.info.hostaddr == "127.0.0.1" or conn.info.host == "127.0.0.1"


def test_srv_recovers_from_killed_postmaster(srv_server: EmbeddedServer) -> None:
    first = srv_server.start(settings=FAST)
    pidfile = srv_server.data_dir / "data" / "postmaster.pid"
    pid = int(pidfile.read_text().splitlines()[0])
    assert pid == first.pid
    os.kill(pid, signal.SIGKILL)  # our own test server's postmaster, read from its pid file
    _wait_gone(pid)
    assert pidfile.exists()
    assert not srv_server.status().running

    second = srv_server.start(settings=FAST)
    assert second.running and second.pid != pid
    assert _select_one(second.url()) == 1


def test_srv_pidfile_naming_live_process(srv_server: EmbeddedServer) -> None:
    srv_server.start(settings=FAST)
    pidfile = srv_server.data_dir / "data" / "postmaster.pid"
    lines = pidfile.read_text().splitlines()
    srv_server.stop()
    assert not pidfile.exists()
    # A pid file left behind whose pid now belongs to an unrelated live process: this one.
    pidfile.write_text("\n".join([str(os.getpid()), *lines[1:]]) + "\n")

    status = srv_server.status()
    assert not status.running and status.pid is None
    assert srv_server.stop().running is False  # must not signal the pid in the file

    started = srv_server.start(settings=FAST)
    assert started.running and started.pid != os.getpid()
    assert _select_one(started.url()) == 1


def test_srv_long_path_moves_socket(private_dir: Path) -> None:
    base = private_dir
    data_dir = base / ("d" * 60) / ("e" * 60) / ".pgwarden"
    assert len(str(data_dir)) > 110
    server = EmbeddedServer(data_dir)
    try:
        status = server.start(settings=FAST)
        assert status.socket_dir is not None
        assert str(status.socket_dir).startswith("/tmp/pgwarden-")
        assert len(str(status.socket_dir)) < 40
        assert _select_one(status.socket_url()) == 1
        assert _select_one(status.url()) == 1
    finally:
        server.stop()
    assert not server.status().running


def test_srv_rejects_reserved_settings(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / ".pgwarden")
    with pytest.raises(ServerError, match="managed by pgwarden"):
        server.start(settings={"port": "5432"})
    with pytest.raises(ServerError, match="invalid setting"):
        server.start(settings={"bad name; rm": "x"})
    with pytest.raises(ServerError, match="stop mode"):
        server.stop(mode="violent")


def test_srv_start_failure_reports_log(srv_server: EmbeddedServer) -> None:
    with pytest.raises(ServerError) as info:
        srv_server.start(settings={"shared_buffers": "not-a-size"})
    assert "shared_buffers" in str(info.value)
    assert not srv_server.status().running


def test_srv_requested_port_in_use(srv_server: EmbeddedServer) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ServerError, match="could not bind") as info:
            srv_server.start(settings=FAST, port=port)
        assert info.value.hint == f"port {port} may be in use"
    assert not srv_server.status().running
    assert srv_server.start(settings=FAST, port=port).port == port
