"""Through a real PgBouncer in transaction mode: tenants interleaved on shared server
connections, session-level settings left behind by one client, and zero leaks."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.tenancy.conftest import Roles, Tenanted, sign
from tests.tools import require_tool

from pgwarden.server._system import free_port

POOL = 2
CLIENTS = 6
ROUNDS = 25


@pytest.fixture
def bouncer(tenanted: Tenanted, roles: Roles) -> Iterator[str]:
    """PgBouncer (transaction pooling, POOL server connections) in front of the test
    database; yields the URL clients use, as the app role."""
    binary = require_tool("pgbouncer", "/usr/sbin/pgbouncer")
    server = psycopg.conninfo.conninfo_to_dict(tenanted.url)
    home = Path(tempfile.mkdtemp(prefix="pgwarden-bouncer-"))
    port = free_port()
    (home / "users.txt").write_text(f'"{roles.app}" ""\n')
    (home / "pgbouncer.ini").write_text(
        f"""[databases]
tn = host={server.get("host", "127.0.0.1")} port={server.get("port", 5432)} dbname={server["dbname"]}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {home / "users.txt"}
pool_mode = transaction
default_pool_size = {POOL}
max_client_conn = 100
logfile = {home / "pgbouncer.log"}
pidfile = {home / "pgbouncer.pid"}
"""
    )
    command = [binary, str(home / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        user = next((u for u in ("pgwarden", "nobody") if _exists(u)), "nobody")
        shutil.chown(home, user)
        for path in home.iterdir():
            shutil.chown(path, user)
        command[1:1] = ["-u", user]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"postgresql://{roles.app}@127.0.0.1:{port}/tn"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                psycopg.connect(url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline or process.poll() is not None:
                    log = home / "pgbouncer.log"
                    pytest.fail(
                        "pgbouncer did not start: " + (log.read_text() if log.exists() else "")
                    )
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(home, ignore_errors=True)


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def _run(client: Any, errors: list[BaseException]) -> None:
    """``client(n)`` in CLIENTS threads at once; none may have failed."""
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_interleaved_tenants_never_leak(tenanted: Tenanted, bouncer: str) -> None:
    leaks: list[Any] = []
    backends: set[int] = set()
    errors: list[BaseException] = []

    def client(n: int) -> None:
        tenant = str(n % 3 + 1)
        try:
            # No server-side prepared statements: PgBouncer 1.18 cannot carry them.
            with psycopg.connect(bouncer, prepare_threshold=None) as conn:
                for i in range(ROUNDS):
                    if n == 0 and i % 5 == 0:
                        # A careless client: session-level settings stay on the server
                        # connection for whoever PgBouncer hands it to next.
                        conn.execute("set pgwarden.tenant = '1'")
                        conn.execute("set pgwarden.tenant_mac = 'deadbeef'")
                        conn.commit()
                    if n == 1:  # no context at all: must see nothing
                        rows = conn.execute("select org_id, pg_backend_pid() from docs").fetchall()
                        leaks.extend(("no tenant", r) for r in rows)
                    else:
                        sign(conn, tenanted.key, tenant)
                        rows = conn.execute("select org_id, pg_backend_pid() from docs").fetchall()
                        leaks.extend((tenant, r) for r in rows if str(r[0]) != tenant)
                        assert rows, "a tenant sees its own rows"
                    backends.update(r[1] for r in rows)
                    conn.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    _run(client, errors)
    assert leaks == []
    assert 1 <= len(backends) <= POOL  # the clients did share server connections


def test_sessions_signed_through_the_pooler_fall_back_and_never_leak(
    tenanted: Tenanted, bouncer: str
) -> None:
    """Clients using pgwarden's sessions through PgBouncer: each client connection meets
    several server backends, so the binding it remembers is often another backend's; its
    MAC then fails there, the session says so and signs the transaction's start instead.
    Every session sees its own tenant's rows and nothing else."""
    from psycopg_pool import ConnectionPool

    from pgwarden.db import Context, open_session

    leaks: list[Any] = []
    kinds: list[bool] = []
    errors: list[BaseException] = []

    def client(n: int) -> None:
        tenant = str(n % 3 + 1)
        kwargs = {"prepare_threshold": None}
        try:
            with ConnectionPool(bouncer, min_size=1, max_size=1, kwargs=kwargs) as pool:
                for _ in range(ROUNDS):
                    with open_session(pool, Context(tenant=tenant), tenanted.key) as db:
                        rows = db.execute("select org_id from docs").fetchall()
                        leaks.extend((tenant, r) for r in rows if str(r[0]) != tenant)
                        assert rows, "a tenant sees its own rows"
                        assert db.binding is not None
                        kinds.append(db.binding.sequence is not None)
        except BaseException as exc:  # reported below
            errors.append(exc)

    _run(client, errors)
    assert leaks == []
    assert len(kinds) == CLIENTS * ROUNDS
