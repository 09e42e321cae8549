"""The pgBackRest engine: pgwarden writes the stanza's configuration into the repository,
runs ``pgbackrest`` (as the data directory's owner), reads ``info --output=json`` into its
catalog, restores with ``pgbackrest restore`` and drills the result like its own backups.

pgBackRest reads the data directory itself and receives WAL from the server's
``archive_command``, so the server must run on this machine with that command set
(``archive_hint()``: the statements to run once, then a restart for ``archive_mode``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pwd
import random
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg

from pgwarden.errors import BackupError, RestoreRefused
from pgwarden.ops.backup import _drill
from pgwarden.ops.backup._builtin import server_now
from pgwarden.ops.backup._catalog import BackupRecord, Repository, lsn_int
from pgwarden.ops.backup._config import BackupSection
from pgwarden.ops.backup._drill import DrillReport
from pgwarden.ops.backup._instance import Instance
from pgwarden.ops.backup._restore import (
    Point,
    Restored,
    Step,
    Timer,
    Window,
    check_inside,
    check_target,
    control_settings,
    replayed_until,
    window_in,
)
from pgwarden.ops.backup._retention import Decision, Item, plan_retention
from pgwarden.ops.backup._tools import Tool, bin_dir_for
from pgwarden.ops.backup._wal import Commit, Run
from pgwarden.server import _system
from pgwarden.spec import Spec

STANZA = "pgwarden"
_ARCHIVED = re.compile(r"^([0-9A-F]{24})-[0-9a-f]{40}$")
_COMPRESS = {"none": "none", "gzip": "gz", "gz": "gz", "lz4": "lz4", "zstd": "zst", "zst": "zst"}


class PgBackRest:
    """One stanza (``pgwarden``) in ``<repository>/pgbackrest``."""

    def __init__(self, repo: Repository, section: BackupSection, url: str) -> None:
        self.repo = repo
        self.section = section
        self.url = url
        self.home = repo.path / "pgbackrest"
        self.config = self.home / "pgbackrest.conf"
        self.exe = shutil.which("pgbackrest") or "pgbackrest"

    # -- configuration -------------------------------------------------------------------

    def _server(self) -> dict[str, Any]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(
                """select current_setting('data_directory'), current_setting('port'),
                          split_part(current_setting('unix_socket_directories'), ',', 1),
                          current_user, current_setting('archive_command'),
                          current_setting('archive_mode'),
                          current_setting('server_version_num')::int / 10000,
                          (select setting::bigint from pg_settings
                            where name = 'wal_segment_size')"""
            ).fetchone()
        assert row is not None
        keys = ["data", "port", "socket", "user", "archive_command", "archive_mode", "major", "seg"]
        info = dict(zip(keys, row, strict=True))
        if self.section.pgbackrest_data_dir is not None:
            info["data"] = str(self.section.pgbackrest_data_dir)
        return info

    def _account(self, data_dir: str) -> _system.Account | None:
        if os.geteuid() != 0:
            return None
        owner = Path(data_dir).stat().st_uid
        entry = pwd.getpwuid(owner)
        return _system.Account(entry.pw_name, entry.pw_uid, entry.pw_gid)

    def archive_command(self) -> str:
        return f"{self.exe} --config={self.config} --stanza={STANZA} archive-push %p"

    def archive_hint(self) -> str:
        return (
            f"ALTER SYSTEM SET archive_mode = on; ALTER SYSTEM SET archive_command = "
            f"'{self.archive_command()}'; then restart the server (archive_mode needs it)"
        )

    def ensure(self) -> dict[str, Any]:
        """Write the configuration, create the stanza, check archiving; the server's facts."""
        info = self._server()
        if info["archive_mode"] == "off" or str(self.config) not in info["archive_command"]:
            raise BackupError(
                "the server does not archive WAL into this pgBackRest repository "
                f"(archive_mode = {info['archive_mode']}, archive_command = "
                f"{info['archive_command']!r})",
                hint=self.archive_hint(),
            )
        if self.section.encryption is not None:
            passphrase = os.environ.get(self.section.encryption.passphrase_env)
            if not passphrase:
                raise BackupError(
                    f"[backup] encryption: the environment variable "
                    f"{self.section.encryption.passphrase_env} is not set"
                )
        account = self._account(info["data"])
        for sub in ("repo", "log", "lock", "spool"):
            (self.home / sub).mkdir(parents=True, exist_ok=True, mode=0o750)
        compress = _COMPRESS.get(self.section.compression.split(":")[0], "none")
        lines = [
            "[global]",
            f"repo1-path={self.home / 'repo'}",
            f"log-path={self.home / 'log'}",
            f"lock-path={self.home / 'lock'}",
            f"spool-path={self.home / 'spool'}",
            "log-level-console=warn",
            "log-level-file=info",
            "start-fast=y",
            f"compress-type={compress}",
            "repo1-retention-full=9999",
            "expire-auto=n",
        ]
        if self.section.encryption is not None:
            # The passphrase comes from the environment (PGBACKREST_REPO1_CIPHER_PASS),
            # never from this file.
            lines.append("repo1-cipher-type=aes-256-cbc")
        lines += [
            f"[{STANZA}]",
            f"pg1-path={info['data']}",
            f"pg1-port={info['port']}",
            f"pg1-socket-path={info['socket']}",
            f"pg1-user={info['user']}",
        ]
        self.home.mkdir(parents=True, exist_ok=True)
        self.config.write_text("\n".join(lines) + "\n")
        if account is not None:
            _system.make_traversable(self.home)
            _system.chown(self.home, account, recursive=True)
        if not (self.home / "repo" / "backup" / STANZA / "backup.info").exists():
            self._run(["stanza-create"], account)
        return info

    def _env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.section.encryption is not None:
            env["PGBACKREST_REPO1_CIPHER_PASS"] = os.environ.get(
                self.section.encryption.passphrase_env, ""
            )
        return env

    def _run(
        self,
        args: list[str],
        account: _system.Account | None,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        argv = [self.exe, f"--config={self.config}", f"--stanza={STANZA}", *args]
        Tool(argv, env=self._env(), account=account, on_line=on_line, cwd=self.home).wait()

    def _info(self) -> dict[str, Any]:
        argv = [self.exe, f"--config={self.config}", f"--stanza={STANZA}", "info", "--output=json"]
        with tempfile.TemporaryFile("w+") as out:
            env = {**os.environ, **self._env()}
            proc = subprocess.run(
                argv, stdout=out, stderr=subprocess.PIPE, env=env, check=False, text=True
            )
            if proc.returncode != 0:
                raise BackupError(f"pgbackrest info failed: {proc.stderr.strip()}")
            out.seek(0)
            data: list[dict[str, Any]] = json.load(out)
        return data[0] if data else {}

    # -- catalog -------------------------------------------------------------------------

    def records(self) -> list[BackupRecord]:
        """pgBackRest's backups (from ``info``) with pgwarden's verifications attached."""
        if not self.config.exists():
            return []
        info = self._info()
        known = {r.id: r for r in self.repo.records()}
        db = {d["id"]: d for d in info.get("db", [])}
        seg = int(known[next(iter(known))].wal_segment_size) if known else 16 * 1024 * 1024
        out = []
        for b in info.get("backup", []):
            if b.get("error"):
                continue
            archive = b.get("archive") or {}
            start_seg = archive.get("start") or "00000001"
            stamp = b["timestamp"]
            record = BackupRecord(
                id=b["label"],
                engine="pgbackrest",
                kind=b["type"],
                parent=b.get("prior"),
                format="pgbackrest",
                compression=self.section.compression,
                major=int(str(db.get(b["database"]["id"], {}).get("version", "0")).split(".")[0]),
                system_identifier=str(db.get(b["database"]["id"], {}).get("system-id", "")),
                timeline=int(start_seg[:8], 16),
                wal_segment_size=seg,
                start_lsn=b["lsn"]["start"],
                stop_lsn=b["lsn"]["stop"],
                start_time=dt.datetime.fromtimestamp(stamp["start"], dt.UTC).isoformat(),
                # pgBackRest's stamps are whole seconds: the server's clock read when the
                # backup command returned (kept in our catalog) is exact and still safe.
                stop_time=known[b["label"]].stop_time
                if b["label"] in known
                else dt.datetime.fromtimestamp(stamp["stop"] + 1, dt.UTC).isoformat(),
                seconds=float(stamp["stop"] - stamp["start"]),
                bytes=int(b["info"]["repository"].get("delta", 0)),
                files=[],
                verification=known[b["label"]].verification if b["label"] in known else None,
            )
            out.append(record)
        return out

    def _sync(self) -> list[BackupRecord]:
        records = self.records()
        self.repo.write(records)
        return records

    def backup(self, kind: str | None) -> BackupRecord:
        with self.repo.locked():
            info = self.ensure()
            account = self._account(info["data"])
            before = {r.id for r in self.repo.records()}
            pb_type = {"full": "full", "diff": "diff", "incremental": "incr", "incr": "incr"}
            args = ["backup", f"--type={pb_type.get(kind or 'incr', 'incr')}"]
            self._run(args, account)
            with psycopg.connect(self.url, autocommit=True) as conn:
                now = server_now(conn)
            records = [
                replace(
                    r,
                    wal_segment_size=int(info["seg"]),
                    stop_time=r.stop_time if r.id in before else now,
                )
                for r in self.records()
            ]
            self.repo.write(records)
        new = [r for r in records if r.id not in before]
        if not new:
            raise BackupError("pgbackrest backup ended but info lists no new backup")
        return new[-1]

    # -- restore -------------------------------------------------------------------------

    @contextmanager
    def _plain_wal(self, record: BackupRecord) -> Iterator[Path]:
        """The stanza's archived WAL (uncompressed) under plain segment names."""
        with tempfile.TemporaryDirectory(prefix="pgwarden-pgbr-wal-") as tmp:
            archive = self.home / "repo" / "archive" / STANZA
            for dirpath, _dirs, names in os.walk(archive):
                for name in names:
                    match = _ARCHIVED.match(name)
                    if match:
                        os.symlink(Path(dirpath, name), Path(tmp, match.group(1)))
            yield Path(tmp)

    def window(self, record: BackupRecord) -> tuple[Window, Run]:
        binaries = bin_dir_for(record.major, self.section.bin_dir)
        if _COMPRESS.get(self.section.compression.split(":")[0], "none") != "none":
            # A compressed archive is not read here: the end of the window is left to
            # PostgreSQL (a point past the archive fails the restore with its message).
            end = dt.datetime.max.replace(tzinfo=dt.UTC)
            stop = lsn_int(record.stop_lsn)
            return Window(record.id, record.stopped, end, stop, 2**64 - 1, None), Run(
                0, None, None, []
            )
        with self._plain_wal(record) as wal_dir:
            win, run_ = window_in(wal_dir, record, binaries)
            # the links die with the directory: keep only what callers read
            return win, Run(run_.first, run_.last, run_.gap, [])

    def pick(self, record: BackupRecord, win: Window, rng: random.Random) -> Commit | None:
        binaries = bin_dir_for(record.major, self.section.bin_dir)
        with self._plain_wal(record) as wal_dir:
            _win, run_ = window_in(wal_dir, record, binaries)
            return _drill.pick_commit(binaries, run_, record, win, rng)

    def restore(
        self,
        target: Path,
        point: Point,
        *,
        backup_id: str | None = None,
        keep_running: bool = False,
        step: Step = lambda _s: None,
    ) -> Restored:
        """``pgbackrest restore`` of the backup that reaches ``point``, then replay and
        promote with matching binaries."""
        target = target.absolute()
        check_target(target)
        timer = Timer()
        with timer("choose"):
            records = self.records()
            if backup_id is not None:
                records = [r for r in records if r.id == backup_id]
            if not records:
                raise RestoreRefused(f"no pgBackRest backup {backup_id or ''} to restore")
            record = records[-1]
            if point.kind == "time" and point.time is not None:
                record = next((r for r in reversed(records) if r.stopped <= point.time), records[0])
            win, _run = self.window(record)
            check_inside(point, win)
            if win.gap and point.kind == "latest":
                raise RestoreRefused(
                    f"the WAL archive has a gap: segment {win.gap} is missing",
                    hint=f"the window is {win.text()}",
                )
        binaries = bin_dir_for(record.major, self.section.bin_dir)
        created = not target.exists()
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        instance = Instance(target, binaries)
        instance.prepare()
        args = ["restore", f"--pg1-path={target}", f"--set={record.id}"]
        if point.kind == "time" and point.time is not None:
            args += [
                "--type=time",
                f"--target={point.time.isoformat(sep=' ')}",
                "--target-action=promote",
            ]
        elif point.kind == "lsn" and point.lsn is not None:
            args += ["--type=lsn", f"--target={point.lsn}", "--target-action=promote"]
        elif point.kind == "xid" and point.xid is not None:
            args += ["--type=xid", f"--target={point.xid}", "--target-action=promote"]
        try:
            with timer("rebuild"):
                step("pgbackrest restore")
                self._run(args, instance.account)
            with timer("replay"):
                step("replay WAL and promote")
                instance.start({**control_settings(binaries, target), "archive_mode": "off"})
                instance.wait_promoted()
                reached = replayed_until(instance)
            if not keep_running:
                with timer("stop"):
                    instance.stop()
        except BaseException:
            instance.stop("immediate")
            if created:
                shutil.rmtree(target, ignore_errors=True)
            raise
        return Restored(
            record.id,
            target,
            point.describe(),
            reached,
            win.text(),
            timer.spent,
            instance if keep_running else None,
        )

    # -- verify / prune ------------------------------------------------------------------

    def verify(
        self, backup_id: str | None, *, spec: Spec | None, seed: int | None, step: Step
    ) -> DrillReport:
        with self.repo.locked():
            records = self._sync()
            problems = []
            for r in records:
                where = self.home / "repo" / "backup" / STANZA / r.id
                if not where.is_dir():
                    problems.append(f"backup {r.id}: its directory {where} is missing")
            if not records:
                return DrillReport(None, problems or ["the repository has no backup"])
            record = (
                next((r for r in records if r.id == backup_id), None) if backup_id else records[-1]
            )
            if record is None:
                raise BackupError(f"no pgBackRest backup {backup_id!r}")
            try:
                step("pgbackrest verify")
                self._run(["verify"], self._account(self._server()["data"]))
            except BackupError as exc:
                problems.append(f"pgbackrest verify: {exc.message}")
            report = _drill.drill(
                self,
                record,
                spec=spec,
                bin_dir=self.section.bin_dir,
                rng=random.Random(seed),
                step=step,
            )
            report.problems[:0] = problems
            _drill.record_verification(self.repo, record, report)
        return report

    def prune(self, *, dry_run: bool) -> Any:
        from pgwarden.ops.backup._service import Pruned

        with self.repo.locked():
            records = self._sync()
            items = [
                Item(r.id, r.stopped, bool(r.verification and r.verification.ok), r.parent)
                for r in records
            ]
            decisions: list[Decision] = plan_retention(items, self.section.keep)
            if not dry_run:
                account = self._account(self._server()["data"])
                for d in decisions:
                    if not d.keep:
                        self._run(["expire", f"--set={d.id}"], account)
                self._sync()
        return Pruned(
            decisions,
            [],
            "pgBackRest's expire removes the WAL only expired backups needed",
            dry_run,
        )
