"""``pgwarden backup``: run, list, verify (restore drills), restore (PITR), prune, wal."""

from __future__ import annotations

import datetime as dt
import re
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pgwarden.cli._common import (
    EXIT_ERROR,
    AsJson,
    console,
    err_console,
    fail,
    options,
    print_json,
)
from pgwarden.errors import PgwardenError
from pgwarden.ops.backup import Backups, BackupSection, Point

backup_app = typer.Typer(
    help=(
        "Backups that count only once restored: take them, drill them (a real restore into a "
        "throwaway server), restore to a point in time, prune by retention, stream WAL. "
        "Configured by \\[backup] in pgwarden.toml."
    ),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Entry point (``pgwarden.commands``): adds ``pgwarden backup``."""
    app.add_typer(backup_app, name="backup")


def _backups(ctx: typer.Context) -> Backups:
    opts = options(ctx)
    spec = opts.spec()
    warden = opts.warden()
    return Backups(warden.url, spec.section("backup", BackupSection), spec=spec)


def _age(iso: str | None) -> str:
    if not iso:
        return "-"
    seconds = (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(iso)).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit} ago"
    return f"{seconds:.0f} s ago"


@backup_app.command("run")
def run(
    ctx: typer.Context,
    full: Annotated[bool, typer.Option("--full", help="A full backup.")] = False,
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Incremental on the newest (PostgreSQL 17+).")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Take a backup now (full, or incremental when the policy says so), add it to the
    catalog, then archive the WAL up to now. Exits 1 on error (nothing is catalogued)."""
    kind = "full" if full else "incremental" if incremental else None
    try:
        backups = _backups(ctx)
        if as_json or not err_console.is_terminal:
            record = backups.run(kind=kind)
        else:
            with Progress(
                TextColumn("backup"),
                BarColumn(),
                DownloadColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            ) as bars:
                task = bars.add_task("backup", total=None)
                record = backups.run(
                    kind=kind, progress=lambda d, t: bars.update(task, completed=d, total=t)
                )
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json(record.to_json())
        return
    console.print(
        f"backup [bold]{record.id}[/] ({record.kind}): {record.bytes / 1e6:,.1f} MB in "
        f"{record.seconds:.1f} s, LSN {record.start_lsn} .. {record.stop_lsn}"
    )


@backup_app.command("list")
def list_(ctx: typer.Context, as_json: AsJson = False) -> None:
    """The catalogued backups, oldest first, with their verification."""
    try:
        backups = _backups(ctx)
        records = backups.records()
        health = backups.health()
        archive = backups.archive()
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json(
            {
                "backups": [r.to_json() for r in records],
                "health": health.to_json(),
                "wal_archive": archive,
            }
        )
        return
    table = Table(title=f"backups in {escape(str(backups.repo.path))}")
    for column in ("id", "kind", "ended", "size", "took", "LSN", "verified"):
        table.add_column(column)
    for r in records:
        ver = r.verification
        verified = (
            "-"
            if ver is None
            else (
                f"[green]ok[/] {_age(ver.at)}, RTO {ver.rto_seconds:.1f} s"
                if ver.ok
                else f"[red]failed[/] {_age(ver.at)}"
            )
        )
        table.add_row(
            r.id,
            r.kind,
            _age(r.stop_time),
            f"{r.bytes / 1e6:,.1f} MB",
            f"{r.seconds:.1f} s",
            f"{r.start_lsn} .. {r.stop_lsn}",
            verified,
        )
    console.print(table)
    for problem in health.problems():
        console.print(f"[yellow]attention[/]: {escape(problem)}")
    if archive["segments"]:
        console.print(
            f"WAL archive: {archive['segments']} segments, {archive['first']} .. {archive['last']}"
        )
    if archive["gap"]:
        console.print(f"[red]WAL gap[/]: segment {archive['gap']} is missing")
    if health.wal_lag_bytes is not None:
        console.print(f"WAL not yet archived: {health.wal_lag_bytes:,} bytes")


@backup_app.command("verify")
def verify(
    ctx: typer.Context,
    backup_id: Annotated[str | None, typer.Argument(help="Backup id (default: newest).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the random restore point.")] = None,
    as_json: AsJson = False,
) -> None:
    """A restore drill: restore the backup into a throwaway server with matching binaries,
    replay WAL to a random commit of its window, run amcheck on every table and btree index,
    count rows, check pgwarden's ledger for drift; record RTO and the newest recoverable
    point and mark the backup verified. Also reports missing backups and WAL gaps.
    Exits 1 when anything is wrong."""
    try:
        backups = _backups(ctx)
        with console.status("restore drill") as status:
            report = backups.verify(backup_id, seed=seed, step=lambda s: status.update(s))
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json(report.to_json())
    else:
        console.print(
            f"backup {report.backup}: restored to {report.target}, reached {report.reached}; "
            f"RTO {report.rto_seconds:.1f} s "
            + " ".join(f"{k} {v:.1f}s" for k, v in report.breakdown.items())
        )
        console.print(
            f"checked {report.databases} databases, {report.tables} tables, "
            f"{report.indexes} indexes, {report.rows:,} rows; recoverable until "
            f"{report.recoverable_until}"
        )
        for problem in report.problems:
            err_console.print(f"[bold red]problem[/]: {escape(problem)}")
        if report.ok:
            console.print("[green]verified[/]")
    if not report.ok:
        raise typer.Exit(EXIT_ERROR)


_LSN = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")


def _parse_time(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(PgwardenError(f"--to {text!r} is not an ISO 8601 time (e.g. 2026-05-01T12:00Z)"))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@backup_app.command("restore")
def restore(
    ctx: typer.Context,
    target: Annotated[Path, typer.Option("--target", help="New or empty data directory.")],
    to: Annotated[
        str | None, typer.Option("--to", help="ISO 8601 time (UTC unless it has an offset).")
    ] = None,
    lsn: Annotated[str | None, typer.Option("--lsn", help="WAL position, e.g. 0/3000100.")] = None,
    xid: Annotated[int | None, typer.Option("--xid", help="Transaction id (included).")] = None,
    latest: Annotated[bool, typer.Option("--latest", help="All archived WAL (default).")] = False,
    backup_id: Annotated[
        str | None, typer.Option("--backup", help="Use this backup (default: chosen).")
    ] = None,
    start: Annotated[
        bool, typer.Option("--start", help="Leave the restored server running.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Choose the backup and check everything; write nothing."),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Restore into TARGET at a point in time: pgwarden chooses the backup, refuses a
    non-empty target, a point outside the recoverable window (it prints the window) and a
    WAL gap, replays and promotes. The server is stopped afterwards unless --start."""
    if lsn is not None and not _LSN.match(lsn):
        fail(PgwardenError(f"--lsn {lsn!r} is not a WAL position (e.g. 0/3000100)"))
    given = [x for x in (to, lsn, xid) if x is not None]
    if len(given) + latest > 1:
        fail(PgwardenError("give one of --to, --lsn, --xid, --latest"))
    point = (
        Point("time", time=_parse_time(to))
        if to is not None
        else Point("lsn", lsn=lsn)
        if lsn is not None
        else Point("xid", xid=xid)
        if xid is not None
        else Point()
    )
    try:
        backups = _backups(ctx)
        with console.status("restore") as status:
            done = backups.restore(
                target,
                point,
                backup_id=backup_id,
                keep_running=start,
                step=lambda s: status.update(s),
                dry_run=dry_run,
            )
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json(
            {
                "backup": done.backup,
                "target": str(done.target),
                "point": done.point,
                "reached": done.reached,
                "window": done.window,
                "seconds": done.seconds,
                "breakdown": done.breakdown,
                "socket_url": done.instance.url() if done.instance else None,
                "dry_run": dry_run,
                "chain": done.chain,
                "wal_segments": done.wal_segments,
            }
        )
        return
    if dry_run:
        console.print(
            f"would restore {' + '.join(done.chain)} into {done.target} and replay "
            f"{done.wal_segments} archived WAL segments to {done.point}; window {done.window}"
        )
        return
    console.print(
        f"restored backup {done.backup} into {done.target}, replayed to {done.point} "
        f"(last transaction {done.reached}), promoted, in {done.seconds:.1f} s"
    )
    if done.instance is not None:
        console.print(f"running: {done.instance.url()} (stop: pg_ctl stop -D {done.target})")


@backup_app.command("prune")
def prune(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go.")] = False,
    as_json: AsJson = False,
) -> None:
    """Apply the retention policy (\\[backup] keep: daily / weekly / monthly): remove the
    backups it does not keep and the WAL no kept backup needs; never the newest verified
    backup. Says what goes and why."""
    try:
        result = _backups(ctx).prune(dry_run=dry_run)
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json(result.to_json())
        return
    verb = "would remove" if dry_run else "removed"
    for d in result.decisions:
        mark = "[green]keep[/]  " if d.keep else f"[red]{verb}[/] "
        console.print(f"{mark}{d.id}: {escape(', '.join(d.reasons))}")
    if result.wal_segments:
        console.print(
            f"{verb} {len(result.wal_segments)} WAL segments {result.wal_segments[0]} .. "
            f"{result.wal_segments[-1]}: {escape(result.wal_reason)}"
        )


@backup_app.command("wal")
def wal(
    ctx: typer.Context,
    until_now: Annotated[
        bool, typer.Option("--until-now", help="Archive up to the current position, then exit.")
    ] = False,
) -> None:
    """Stream WAL into the repository with pg_receivewal through a replication slot, until
    stopped (SIGINT/SIGTERM); reconnects with backoff. Run it as a service next to the
    server: it keeps the RPO at seconds."""
    try:
        backups = _backups(ctx)
        if until_now:
            backups.catch_up_wal()
            console.print("WAL archived up to the server's current position")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        err_console.print(f"streaming WAL into {backups.repo.wal_dir} (Ctrl-C stops)")
        backups.stream_wal(stop, on_event=lambda m: err_console.print(escape(m)))
    except PgwardenError as exc:
        fail(exc)


@backup_app.command("status")
def status(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Backup health as the database records it: newest backup age, last verified age, WAL
    archive lag. Exits 1 when something needs attention."""
    try:
        backups = _backups(ctx)
        health = backups.health()
    except PgwardenError as exc:
        fail(exc)
    problems = health.problems(backups.section.max_age.seconds)
    if as_json:
        print_json({**health.to_json(), "problems": problems})
    else:
        console.print(
            f"newest backup {health.newest_backup or '-'} "
            f"({_age_s(health.newest_backup_age)}), last verified "
            f"{_age_s(health.last_verified_age)}, WAL lag "
            f"{'-' if health.wal_lag_bytes is None else f'{health.wal_lag_bytes:,} bytes'}"
        )
        for p in problems:
            console.print(f"[yellow]attention[/]: {escape(p)}")
    if problems:
        raise typer.Exit(EXIT_ERROR)


def _age_s(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds / 3600:.1f} h ago"
