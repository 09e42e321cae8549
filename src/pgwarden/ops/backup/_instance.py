"""A throwaway PostgreSQL server on a data directory, with whichever binaries match it.

Restores and drills start one on a free port with its socket in a short temporary directory;
the tests start their source servers with it too. Running as root, it runs the server as
the embedded server's system user (PostgreSQL refuses root), through the same plumbing.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import psycopg

from pgwarden.errors import BackupError
from pgwarden.server import _system


class Instance:
    """The server of cluster directory ``cluster`` run with the binaries in ``bin_dir``."""

    def __init__(self, cluster: Path, bin_dir: Path) -> None:
        self.cluster = cluster.absolute()
        self.bin_dir = bin_dir
        self.account = _system.server_account(self.cluster)
        self.port: int | None = None
        self.socket_dir: Path | None = None
        self.log_file = self.cluster.parent / f"{self.cluster.name}.log"

    def url(self, database: str = "postgres") -> str:
        """libpq URL over the unix socket (``listen_addresses`` is empty unless asked)."""
        if self.port is None or self.socket_dir is None:
            raise BackupError(f"the server of {self.cluster} is not running")
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql://postgres@/{quote(database, safe='')}?host={host}&port={self.port}"

    def tcp_url(self, database: str = "postgres") -> str:
        if self.port is None:
            raise BackupError(f"the server of {self.cluster} is not running")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{quote(database, safe='')}"

    def prepare(self) -> None:
        """Hand the cluster to the account the server runs as, with the modes it insists on."""
        if self.account is not None and self.bin_dir == _system.bin_path():
            _system.open_install_tree()
        if self.account is not None:
            _system.make_traversable(self.cluster)
            _system.chown(self.cluster, self.account, recursive=True)
        self.cluster.chmod(0o700)

    def initdb(self, timeout: float = 120, *, wal_segsize_mb: int | None = None) -> None:
        """A new cluster (trust authentication: for drills and tests, not for data)."""
        self.cluster.mkdir(parents=True, exist_ok=True)
        self.prepare()
        extra = [f"--wal-segsize={wal_segsize_mb}"] if wal_segsize_mb else []
        code, out = _system.run(
            [
                self.bin_dir / "initdb",
                "-D",
                self.cluster,
                "--auth=trust",
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
                *extra,
            ],
            account=self.account,
            timeout=timeout,
            cwd=self.cluster,
        )
        if code != 0:
            raise BackupError(f"initdb failed (exit {code}): {out.strip()}")

    def start(
        self,
        settings: Mapping[str, str] | None = None,
        *,
        tcp: bool = False,
        timeout: float = 600,
    ) -> None:
        """Start on a free port and wait until it accepts connections (after any recovery)."""
        self.prepare()
        self.socket_dir = Path(tempfile.mkdtemp(prefix="pgwb-", dir="/tmp"))
        _system.chown(self.socket_dir, self.account)
        self.port = _system.free_port()
        options = {
            "port": str(self.port),
            "listen_addresses": "127.0.0.1" if tcp else "",
            "unix_socket_directories": str(self.socket_dir),
            **(settings or {}),
        }
        opts = " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in options.items())
        self.log_file.touch()
        _system.chown(self.log_file, self.account)
        code, out = _system.run(
            [
                self.bin_dir / "pg_ctl",
                "start",
                "-D",
                self.cluster,
                "-s",
                "-l",
                self.log_file,
                "-w",
                "-t",
                str(round(timeout)),
                "-o",
                opts,
            ],
            account=self.account,
            timeout=timeout + 10,
            cwd=self.cluster,
        )
        if code != 0:
            log = _system.tail(self.log_file)
            self._forget()
            raise BackupError(
                f"the server of {self.cluster} did not start (pg_ctl exit {code}): "
                f"{out.strip()}\n--- {self.log_file} ---\n{log}"
            )

    def wait_promoted(self, timeout: float = 600) -> None:
        """Wait until recovery has ended and the server accepts writes."""
        deadline = time.monotonic() + timeout
        while True:
            with psycopg.connect(self.url(), autocommit=True) as conn:
                row = conn.execute("select pg_is_in_recovery()").fetchone()
                if row is not None and not row[0]:
                    return
            if time.monotonic() > deadline:
                raise BackupError(
                    f"the server of {self.cluster} was still in recovery after {timeout:g}s\n"
                    + _system.tail(self.log_file)
                )
            time.sleep(0.1)

    def stop(self, mode: str = "fast") -> None:
        if self.port is None:
            return
        _system.run(
            [self.bin_dir / "pg_ctl", "stop", "-D", self.cluster, "-s", "-m", mode, "-w"],
            account=self.account,
            timeout=120,
            cwd=self.cluster.parent,
        )
        self._forget()

    def _forget(self) -> None:
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
        self.port = None
        self.socket_dir = None

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(BackupError):
            self.stop("immediate" if exc[0] is not None else "fast")
