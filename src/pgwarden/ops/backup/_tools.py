"""PostgreSQL's client programs, found for the right major version and run as child processes
that die with pgwarden (a killed ``backup run`` never leaves a ``pg_basebackup`` writing on)."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import psycopg

from pgwarden.errors import BackupError
from pgwarden.server import _system

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def bin_dir_for(major: int, configured: Path | None = None) -> Path:
    """Client and server binaries of PostgreSQL ``major`` (restores need the exact major)."""
    candidates: list[Path] = []
    if configured is not None:
        candidates.append(configured)
    else:
        version = _system.binary_version() or ""
        if version.split(".")[0] == str(major):
            candidates.append(_system.bin_path())
        candidates.append(Path(f"/usr/lib/postgresql/{major}/bin"))
        pg_config = shutil.which("pg_config")
        if pg_config:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
            candidates.append(Path(out.stdout.strip()))
    for candidate in candidates:
        if (candidate / "pg_basebackup").is_file() and _major_of(candidate) == major:
            return candidate
    tried = ", ".join(str(c) for c in candidates) or "none"
    raise BackupError(
        f"no PostgreSQL {major} binaries found (tried {tried})",
        hint=f"install PostgreSQL {major}'s server package (e.g. postgresql-{major}) or set "
        "[backup] bin_dir to its bin directory",
    )


def _major_of(bin_dir: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except OSError:
        return None
    match = re.search(r"\(PostgreSQL\) (\d+)", out)
    return int(match.group(1)) if match else None


# Options every libpq since PostgreSQL 12 knows: the tools of an older server refuse newer
# ones (a URL built from psycopg's libpq may carry e.g. sslcertmode, new in 16).
_LIBPQ_KEYS = frozenset(
    {
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "connect_timeout",
        "options",
        "application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "sslmode",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslcrl",
        "sslpassword",
        "requirepeer",
        "gssencmode",
        "krbsrvname",
        "gsslib",
        "service",
        "target_session_attrs",
        "channel_binding",
    }
)


def libpq_args(url: str) -> tuple[str, dict[str, str]]:
    """The conninfo to pass with ``-d`` and the environment carrying its password, so the
    password never shows in a process list or a log line."""
    params = {k: v for k, v in psycopg.conninfo.conninfo_to_dict(url).items() if k in _LIBPQ_KEYS}
    env: dict[str, str] = {}
    password = params.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    conninfo = psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items()})
    return conninfo, env


class Tool:
    """A running PostgreSQL client program; ``wait()`` raises :class:`BackupError` with the
    tail of its output when it fails."""

    def __init__(
        self,
        argv: Sequence[str | Path],
        *,
        env: dict[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
        account: _system.Account | None = None,
        cwd: Path | None = None,
        guard: bool = False,
    ) -> None:
        self.name = Path(str(argv[0])).name
        self._tail: deque[str] = deque(maxlen=40)
        self._on_line = on_line
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        environ.update(env or {})
        environ["TZ"] = "UTC"
        self.proc = subprocess.Popen(
            [str(a) for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=environ,
            cwd=cwd,
            preexec_fn=_die_with_parent,
            start_new_session=guard,
            user=None if account is None else account.uid,
            group=None if account is None else account.gid,
            extra_groups=None if account is None else [],
        )
        # pg_basebackup forks its WAL streamer, which no death signal reaches. A watchdog
        # shell waits on a pipe only this process writes to: when pgwarden dies, however it
        # dies, the pipe closes and the watchdog kills the tool's whole process group.
        self._guard = (
            subprocess.Popen(
                ["sh", "-c", f"read _; kill -9 -{self.proc.pid} 2>/dev/null"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if guard
            else None
        )
        assert self.proc.stderr is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stderr,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        # pg_basebackup -P rewrites its progress line with '\r': split on both.
        buffer = b""
        while chunk := stream.read1(4096):  # type: ignore[attr-defined]
            buffer += chunk
            *lines, buffer = re.split(rb"[\r\n]", buffer)
            for raw in lines:
                self._line(raw)
        if buffer:
            self._line(buffer)

    def _line(self, raw: bytes) -> None:
        line = raw.decode(errors="replace").strip()
        if not line:
            return
        if self._on_line is not None:
            self._on_line(line)
        self._tail.append(line)

    @property
    def output(self) -> str:
        return "\n".join(self._tail)

    def wait(self, timeout: float | None = None) -> None:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BackupError(f"{self.name} did not finish within {timeout:g}s") from None
        self._reader.join(5)
        self._unguard()
        if code != 0:
            raise BackupError(f"{self.name} failed (exit {code}):\n{self.output}")

    def _unguard(self) -> None:
        if self._guard is not None:
            self._guard.kill()
            self._guard.wait()
            if self._guard.stdin is not None:
                self._guard.stdin.close()
            self._guard = None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._unguard()


def run(
    argv: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    account: _system.Account | None = None,
) -> str:
    """Run a program to completion and return its (stderr) output."""
    tool = Tool(argv, env=env, account=account)
    tool.wait(timeout)
    return tool.output


def capture(argv: Sequence[str | Path], *, timeout: float = 600) -> tuple[int, str]:
    """Run a program whose stdout is the answer (``pg_waldump``); exit code and stdout."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.run(
            [str(a) for a in argv],
            stdout=out,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("PG")}, "TZ": "UTC"},
            check=False,
        )
        out.seek(0)
        return proc.returncode, out.read()
