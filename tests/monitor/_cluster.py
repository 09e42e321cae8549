"""A PostgreSQL cluster of one's own in a temporary folder, for checks that read how a server
is set up (preloaded libraries, TLS, pg_hba.conf): the machine's own server and the shared
embedded one are never reconfigured."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    home: Path
    """Its folder (the unix socket is there too); ``home / "data"`` is the data directory."""
    port: int

    @property
    def url(self) -> str:
        return f"host={self.home} port={self.port} user=postgres dbname=postgres"


@contextlib.contextmanager
def cluster(
    bin_dir: Path, options: str = "", files: dict[str, str] | None = None
) -> Iterator[Cluster]:
    """A cluster of ``bin_dir``'s PostgreSQL started with ``-c`` ``options`` (trust for every
    local connection), with ``files`` written into its data directory first (``pg_hba.conf``,
    a certificate: readable by the server only)."""
    from pgwarden.server._system import chown, make_traversable, server_account

    home = Path(tempfile.mkdtemp(prefix="pgwarden-cluster-"))
    account = server_account(home)  # PostgreSQL refuses root: the embedded server's user
    make_traversable(home)
    chown(home, account, recursive=True)
    as_user = {"user": account.uid, "group": account.gid} if account else {}
    data, port = home / "data", free_port()
    env = {**os.environ, "LC_ALL": "C"}

    def run(*argv: str, check: bool = True) -> None:
        subprocess.run(argv, check=check, capture_output=True, env=env, cwd=home, **as_user)  # type: ignore[call-overload]

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
            "--no-sync", "-E", "UTF8", "--locale=C")  # fmt: skip
        for name, text in (files or {}).items():
            path = data / name
            path.write_text(text)
            path.chmod(0o600)
            chown(path, account)
        try:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o",
                f"-p {port} -k {home} -c fsync=off {options}", "-l", str(home / "log"), "-w",
                "start")  # fmt: skip
        except subprocess.CalledProcessError as exc:
            log = (home / "log").read_text() if (home / "log").exists() else ""
            raise RuntimeError(f"the cluster did not start: {log[-2000:]}") from exc
        yield Cluster(home, port)
    finally:
        if (data / "postmaster.pid").exists():
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop",
                check=False)  # fmt: skip
        shutil.rmtree(home, ignore_errors=True)
