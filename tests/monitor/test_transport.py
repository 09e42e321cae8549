"""Security on the wire, on a cluster of its own (the machine's PostgreSQL 15 build: the
embedded server is built without TLS): TLS on with a self-signed certificate,
listening on loopback and on this machine's own network address, and a pg_hba.conf with a
line of each kind the checks judge. Sessions arrive over TCP from that address with and
without TLS."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.monitor._cluster import Cluster, cluster
from tests.monitor.conftest import found, warden_for
from tests.monitor.test_pg15_statements import PG15

HBA = """\
local all all trust
host all all 127.0.0.1/32 trust
hostssl all tls_user 0.0.0.0/0 password
host all pw_user 0.0.0.0/0 password
host all all 0.0.0.0/0 trust
"""
CHECKS = ["security.tls_off", "security.plaintext_sessions", "security.hba_trust"]


def _own_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: picks the outgoing address
        except OSError:
            return None
        address = str(s.getsockname()[0])
    return None if address.startswith("127.") else address


def _certificate() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=localhost",
             "-keyout", f"{tmp}/server.key", "-out", f"{tmp}/server.crt"],
            check=True, capture_output=True,
        )  # fmt: skip
        return {n: Path(tmp, n).read_text() for n in ("server.key", "server.crt")}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Cluster, str | None]]:
    if not (PG15 / "postgres").exists():
        pytest.skip("PostgreSQL 15 binaries are not installed in /usr/lib/postgresql/15")
    address = _own_address()
    listen = ",".join(a for a in ("127.0.0.1", address) if a)
    # ssl in the file, not on the command line (which ALTER SYSTEM could not override)
    files = {"pg_hba.conf": HBA, "postgresql.conf": "ssl = on\n", **_certificate()}
    with cluster(PG15, f"-c listen_addresses='{listen}'", files) as found_:
        yield found_, address


def _reload(url: str, statement: str, setting: str, value: str) -> None:
    """Change a setting and reload: new sessions see it once the postmaster has read it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)
        conn.execute("select pg_reload_conf()")
    for _ in range(200):
        with psycopg.connect(url) as conn:
            if conn.execute("select current_setting(%s)", (setting,)).fetchone() == (value,):
                return
        time.sleep(0.05)
    raise AssertionError(f"{setting} never became {value}")


def _doctor(url: str) -> object:
    with warden_for(url) as warden:
        return warden.monitor.doctor(CHECKS)


def test_tls_off_is_found_where_the_server_listens_beyond_this_machine(
    server: tuple[Cluster, str | None],
) -> None:
    cluster_, address = server
    report = _doctor(cluster_.url)
    assert found(report, "security.tls_off") == []  # type: ignore[arg-type]
    url = cluster_.url
    try:
        _reload(url, "alter system set ssl_min_protocol_version = 'TLSv1.1'",
                "ssl_min_protocol_version", "TLSv1.1")  # fmt: skip
        (old,) = found(_doctor(url), "security.tls_off")  # type: ignore[arg-type]
        assert old.object == "setting ssl_min_protocol_version" and "TLSv1.1" in old.advice
        _reload(url, "alter system reset ssl_min_protocol_version", "ssl_min_protocol_version",
                "TLSv1.2")  # fmt: skip
        _reload(url, "alter system set ssl = off", "ssl", "off")
        off = found(_doctor(url), "security.tls_off")  # type: ignore[arg-type]
        if address is None:
            assert off == []  # loopback only: nobody else can listen in
        else:
            assert [f.object for f in off] == ["setting ssl"]
            assert address in off[0].advice
    finally:
        _reload(url, "alter system reset all", "ssl", "on")


def test_sessions_from_another_address_without_tls_are_found(
    server: tuple[Cluster, str | None],
) -> None:
    cluster_, address = server
    if address is None:
        pytest.skip("this machine has no network address besides loopback")
    over_tcp = f"host={address} port={cluster_.port} user=postgres dbname=postgres"
    with (
        psycopg.connect(over_tcp, sslmode="disable") as plain,
        psycopg.connect(over_tcp, sslmode="require") as secured,
        psycopg.connect(
            cluster_.url.replace(str(cluster_.home), "127.0.0.1"), sslmode="disable"
        ) as local,
    ):
        assert plain.pgconn.ssl_in_use is False and secured.pgconn.ssl_in_use is True
        assert local.pgconn.ssl_in_use is False  # in clear, but from this machine
        (finding,) = found(_doctor(cluster_.url), "security.plaintext_sessions")  # type: ignore[arg-type]
        assert finding.object == f"role postgres from {address}"
        assert finding.evidence == {"sessions": 1}  # not the TLS one, not the loopback one


def test_hba_lines_without_a_password_or_with_one_in_clear_are_found(
    server: tuple[Cluster, str | None],
) -> None:
    cluster_, _ = server
    report = _doctor(cluster_.url)
    lines = {f.object: f for f in found(report, "security.hba_trust")}  # type: ignore[arg-type]
    # not line 1 (local) nor 2 (loopback) nor 3 (a password, but over TLS only)
    assert sorted(lines) == ["pg_hba.conf line 4", "pg_hba.conf line 5"]
    assert lines["pg_hba.conf line 4"].severity == "warning"
    assert lines["pg_hba.conf line 5"].severity == "critical"
    assert lines["pg_hba.conf line 5"].detail == "host all all 0.0.0.0/0.0.0.0 trust"
    # a role that may not read pg_hba.conf is told so, not shown an empty result
    with psycopg.connect(cluster_.url, autocommit=True) as conn:
        conn.execute("create role watcher login in role pg_monitor")
    report = _doctor(cluster_.url.replace("user=postgres", "user=watcher"))
    assert found(report, "security.hba_trust") == []  # type: ignore[arg-type]
    assert any(
        n.check == "security.hba_trust" and "superuser" in n.reason
        for n in report.notices  # type: ignore[attr-defined]
    )
