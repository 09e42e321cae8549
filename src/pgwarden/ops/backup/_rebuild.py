"""Rebuilding a backup's data directory: tar extraction that checks SHA-256 as it reads,
incremental chains combined with ``pg_combinebackup``, the result checked by
``pg_verifybackup`` (which names a damaged file)."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, cast

from pgwarden.errors import BackupError, RestoreRefused
from pgwarden.ops.backup._catalog import BackupRecord, Repository
from pgwarden.ops.backup._tools import run

Step = Callable[[str], None]


def chain(repo: Repository, record: BackupRecord) -> list[BackupRecord]:
    """The full backup and the incrementals leading to ``record``, oldest first."""
    by_id = {r.id: r for r in repo.records()}
    out = [record]
    while out[0].parent is not None:
        parent = by_id.get(out[0].parent)
        if parent is None:
            raise BackupError(
                f"backup {record.id} is incremental on {out[0].parent}, which is not catalogued"
            )
        out.insert(0, parent)
    return out


class _Hashing:
    """A read-only file wrapper hashing what passes through (tar extraction reads once)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data

    def drain(self) -> str:
        while chunk := self.raw.read(1 << 20):
            self.digest.update(chunk)
        return self.digest.hexdigest()


def extract(repo: Repository, record: BackupRecord, dest: Path) -> list[str]:
    """Rebuild ``record``'s own data directory in ``dest``; returns checksum problems."""
    problems: list[str] = []
    src = repo.backup_dir(record)
    dest.mkdir(parents=True, exist_ok=True)
    if record.format == "plain":
        shutil.copytree(src, dest, dirs_exist_ok=True, symlinks=True)
        files = [(f, dest / f.name) for f in record.files]
        for item, copied in files:
            digest = hashlib.sha256(copied.read_bytes()).hexdigest()
            if digest != item.sha256:
                problems.append(f"backup {record.id}: {item.name}: SHA-256 mismatch")
        return problems
    for item in record.files:
        path = src / item.name
        if not path.is_file():
            problems.append(f"backup {record.id}: file {path} is missing")
            continue
        if item.name == "backup_manifest":
            shutil.copyfile(path, dest / "backup_manifest")
            if hashlib.sha256(path.read_bytes()).hexdigest() != item.sha256:
                problems.append(f"backup {record.id}: backup_manifest: SHA-256 mismatch")
            continue
        into = dest / "pg_wal" if item.name.startswith("pg_wal.tar") else dest
        with path.open("rb") as raw:
            hashing = _Hashing(raw)
            # pg_basebackup's compressed WAL tar is several gzip members (its headers are
            # rewritten as segments close): gzip.GzipFile reads them all, tarfile's own
            # stream decompression stops after the first.
            stream = cast(IO[bytes], hashing)
            source = (
                cast(IO[bytes], gzip.GzipFile(fileobj=stream, mode="rb"))
                if item.name.endswith(".gz")
                else stream
            )
            with tarfile.open(fileobj=source, mode="r|") as tar:
                tar.extractall(into, filter="fully_trusted")
            if hashing.drain() != item.sha256:
                problems.append(
                    f"backup {record.id}: {item.name}: SHA-256 mismatch "
                    f"(the repository's copy changed after the backup)"
                )
    return problems


def rebuild(
    repo: Repository, record: BackupRecord, target: Path, bin_dir: Path, step: Step
) -> list[str]:
    """The data directory of ``record`` in ``target``, checked against its manifest."""
    members = chain(repo, record)
    problems: list[str] = []
    for member in members:
        if not repo.backup_dir(member).is_dir():
            raise BackupVerifyMissing(member, repo)
    if len(members) == 1:
        step("extract")
        problems += extract(repo, record, target)
    else:
        with tempfile.TemporaryDirectory(prefix="pgwarden-combine-") as tmp:
            dirs = []
            for member in members:
                step(f"extract {member.id}")
                where = Path(tmp) / member.id
                problems += extract(repo, member, where)
                dirs.append(where)
            if problems:
                return problems
            step("combine")
            target.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(target)
            run([bin_dir / "pg_combinebackup", *dirs, "-o", target, "--no-sync"])
            # pg_combinebackup takes no WAL: the newest backup's own WAL comes along.
            shutil.copytree(dirs[-1] / "pg_wal", target / "pg_wal", dirs_exist_ok=True)
    step("pg_verifybackup")
    # Even after a checksum mismatch: pg_verifybackup names the damaged file inside.
    try:
        run([bin_dir / "pg_verifybackup", "-q", "-n", target], timeout=3600)
    except BackupError as exc:
        problems.append(f"backup {record.id}: pg_verifybackup: {exc.message}")
    return problems


class BackupVerifyMissing(RestoreRefused):
    def __init__(self, record: BackupRecord, repo: Repository) -> None:
        super().__init__(
            f"backup {record.id}: its directory {repo.backup_dir(record)} is missing",
            hint="remove it from the catalog with pgwarden backup prune, or restore another",
        )
