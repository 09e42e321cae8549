"""``[backup]`` in ``pgwarden.toml``: where backups go, which engine takes them, what is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pgwarden.spec import Duration, DurationField


class Keep(BaseModel):
    """Grandfather-father-son retention: the newest backup of each of the last N days, ISO
    weeks and months is kept (``keep = { daily = 7, weekly = 4, monthly = 12 }``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    daily: int = Field(default=7, ge=0)
    weekly: int = Field(default=4, ge=0)
    monthly: int = Field(default=12, ge=0)


class Encryption(BaseModel):
    """Repository encryption. Only the pgBackRest engine encrypts (its ``aes-256-cbc``
    repository cipher); the passphrase is read from the environment variable named here, never
    from the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    passphrase_env: str = "PGWARDEN_BACKUP_PASSPHRASE"


class BackupSection(BaseModel):
    """``[backup]``: the backup repository and policy.

    ``repository`` is a directory (relative paths are relative to the working directory).
    ``engine`` is ``builtin`` (PostgreSQL's own ``pg_basebackup`` / ``pg_receivewal``, which
    need only a replication connection) or ``pgbackrest`` (needs local access to the data
    directory and the server's ``archive_command``). ``pgwarden worker`` runs the jobs
    ``backup``, ``backup-verify`` and ``backup-prune`` (when they run is
    ``[worker.jobs.<name>]``; ``every`` / ``verify_every`` say when there is work).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    repository: Path = Path(".pgwarden/backups")
    engine: Literal["builtin", "pgbackrest"] = "builtin"
    format: Literal["tar", "plain"] = "tar"
    """Built-in engine: ``pg_basebackup`` output format."""
    compression: str = "none"
    """Built-in engine: ``pg_basebackup --compress``, ``none`` or ``gzip[:level]`` (what restores
    read back while streaming); pgBackRest: its ``compress-type`` (``none``, ``gz``, ``lz4``,
    ``zst``, ``bz2``)."""
    incremental: bool = True
    """On PostgreSQL 17+ with ``summarize_wal = on``, scheduled backups are incremental on
    top of the newest one (a full one each ``full_every``); before 17 always full."""
    full_every: DurationField = Duration.parse("7 days")
    every: DurationField = Duration.parse("1 day")
    """The worker's ``backup`` job takes a backup when the newest is at least this old."""
    verify_every: DurationField = Duration.parse("1 day")
    """The worker's ``backup-verify`` job drills the newest backup when the last drill is at
    least this old."""
    keep: Keep = Keep()
    max_age: DurationField = Duration.parse("26 hours")
    """Alert when the newest backup is older than this (``health()``)."""
    max_rate: str | None = None
    """Built-in engine: ``pg_basebackup --max-rate`` (e.g. ``"50M"``) to spare the server."""
    slot: str = "pgwarden_backup"
    """Physical replication slot ``pg_receivewal`` streams from (created when missing)."""
    wal: Literal["stream", "archive"] = "stream"
    """Built-in engine: ``stream`` (``pg_receivewal`` on ``slot``, into ``<repository>/wal``)
    or ``archive``: the server's own ``archive_command`` already copies each segment into
    ``wal_dir`` (plain segment names), and pgwarden only reads it."""
    wal_dir: Path | None = None
    """Where the archived WAL is (default ``<repository>/wal``)."""
    encryption: Encryption | None = None
    bin_dir: Path | None = None
    """PostgreSQL client binaries matching the server's major version; default: the embedded
    ones for 18, else ``/usr/lib/postgresql/<major>/bin`` or ``pg_config --bindir``."""
    pgbackrest_data_dir: Path | None = None
    """pgBackRest engine: the source server's data directory (``pg1-path``)."""

    @field_validator("slot")
    @classmethod
    def _slot(cls, value: str) -> str:
        if not value or not all(c.islower() or c.isdigit() or c == "_" for c in value):
            raise ValueError("a replication slot name is lower-case letters, digits and '_'")
        return value

    @model_validator(mode="after")
    def _compression(self) -> BackupSection:
        method = self.compression.removeprefix("client-").removeprefix("server-").split(":")[0]
        allowed = {"builtin": {"none", "gzip"}, "pgbackrest": {"none", "gz", "gzip", "lz4",
                   "zst", "zstd", "bz2"}}[self.engine]  # fmt: skip
        if method not in allowed:
            raise ValueError(
                f"compression {self.compression!r} is not available with the {self.engine} "
                f"engine (use one of {', '.join(sorted(allowed))}"
                + (", optionally with a level: 'gzip:1'" if self.engine == "builtin" else "")
                + ")"
            )
        return self
