"""Audit commands: ``history``, ``log``, ``revert``, ``revert-transaction``, ``changes``,
``erase``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import json
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from pgwarden.cli._common import EXIT_ERROR, AsJson, console, err_console, fail, options, print_json
from pgwarden.errors import PgwardenError
from pgwarden.features.audit._runtime import FOLLOWERS_LOCK, Event, Version

if TYPE_CHECKING:
    from pgwarden.features.audit._wal import Ingested

audit_app = typer.Typer(
    help="The audit trail: history of a row, recent changes, revert, the change feed.",
    no_args_is_help=True,
)

TableArg = Annotated[str, typer.Argument(help="The audited table, e.g. public.entries.")]
KeyArgs = Annotated[list[str], typer.Argument(help="The row's key (one value per key column).")]

_OPS = {"I": "insert", "U": "update", "D": "delete", "T": "truncate"}


def _key(parts: list[str]) -> Any:
    return parts[0] if len(parts) == 1 else tuple(parts)


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def _time(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if value else "-"


@audit_app.command()
def history(ctx: typer.Context, table: TableArg, key: KeyArgs, as_json: AsJson = False) -> None:
    """Every version of one row: when, what changed, who and why."""
    try:
        versions = options(ctx).warden().audit.history(table, _key(key))
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json([v.__dict__ for v in versions])
        return
    if not versions:
        console.print(f"no recorded history for {escape(table)} {escape(' '.join(key))}")
        return
    grid = _grid("ver", "from", "op", "actor", "reason", "txid", "changes")
    previous: Version | None = None
    for v in versions:
        grid.add_row(
            str(v.version),
            _time(v.valid_from),
            v.op,
            escape(v.actor or ""),
            escape(v.reason or ""),
            str(v.txid or ""),
            escape(_changes(previous, v)),
        )
        previous = v
    console.print(grid)


def _grid(*headers: str) -> RichTable:
    """A plain table whose rows stay on one line each; only the last column wraps."""
    grid = RichTable(*headers, box=None)
    for column in grid.columns[:-1]:
        column.no_wrap = True
    return grid


def _changes(previous: Version | None, version: Version) -> str:
    if version.row is None:
        return "(deleted)"
    if previous is None or previous.row is None or version.changed is None:
        return _short(version.row, 80)
    return ", ".join(
        f"{c}: {_short(previous.row.get(c), 20)} → {_short(version.row.get(c), 20)}"
        for c in version.changed
    )


@audit_app.command()
def log(
    ctx: typer.Context,
    table: Annotated[str | None, typer.Option("--table", "-t", help="Only this table.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", "-a", help="Only this actor.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only events at or after this time (ISO 8601).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Recent audited changes, newest first."""
    try:
        events = options(ctx).warden().audit.log(table=table, actor=actor, since=since, limit=limit)
    except (PgwardenError, ValueError) as exc:
        fail(exc if isinstance(exc, PgwardenError) else PgwardenError(str(exc)))
    if as_json:
        print_json([e.to_json() for e in events])
        return
    grid = _grid("event", "at", "table", "op", "key", "actor", "reason")
    for e in events:
        grid.add_row(
            str(e.event_id),
            _time(e.at),
            escape(e.table),
            _OPS[e.op],
            escape(_short(e.key, 30)),
            escape(e.actor or ""),
            escape(e.reason or ""),
        )
    console.print(grid)


def _target(to: str) -> int | str:
    return int(to) if to.isdigit() else to


@audit_app.command()
def revert(
    ctx: typer.Context,
    table: TableArg,
    key: KeyArgs,
    to: Annotated[str, typer.Option("--to", help="A version number or an ISO 8601 time.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Recorded with it.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking.")] = False,
) -> None:
    """Put one row back as it was in a version or at a time (undelete included)."""
    warden = options(ctx).warden()
    if not yes and not _confirm(f"Revert {table} {' '.join(key)} to {to}?"):
        raise typer.Exit(EXIT_ERROR)
    try:
        restored = warden.audit.revert(table, _key(key), to=_target(to), actor="cli", reason=reason)
    except (PgwardenError, ValueError) as exc:
        fail(exc if isinstance(exc, PgwardenError) else PgwardenError(str(exc)))
    state = "now absent" if restored is None else escape(_short(restored, 100))
    console.print(f"[green]Reverted[/] {escape(table)} {escape(' '.join(key))}: {state}")


@audit_app.command("revert-transaction")
def revert_transaction(
    ctx: typer.Context,
    txid: Annotated[int, typer.Argument(help="The transaction id (see `pgwarden log`).")],
    reason: Annotated[str | None, typer.Option("--reason", help="Recorded with it.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking.")] = False,
) -> None:
    """Undo everything one transaction changed; refused when later changes conflict."""
    warden = options(ctx).warden()
    if not yes and not _confirm(f"Revert every change of transaction {txid}?"):
        raise typer.Exit(EXIT_ERROR)
    try:
        undone = warden.audit.revert_transaction(txid, actor="cli", reason=reason)
    except PgwardenError as exc:
        fail(exc)
    for table, key, action in undone:
        console.print(f"  {escape(table)} {escape(_short(key, 40))}: {action}")
    console.print(f"[green]Reverted transaction {txid}[/] ({len(undone)} change(s) undone).")


@audit_app.command("erase")
def erase(
    ctx: typer.Context,
    table: TableArg,
    key: KeyArgs,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column", "-c", help="A column to erase (repeat; default: all but the key)."
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Recorded with it.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking.")] = False,
    as_json: AsJson = False,
) -> None:
    """Erase a row's personal data from the history (every version, archive, checkpoint)."""
    warden = options(ctx).warden()
    what = ", ".join(column) if column else "every column but the key"
    if not yes and not _confirm(f"Erase {what} of {table} {' '.join(key)} from the history?"):
        raise typer.Exit(EXIT_ERROR)
    try:
        done = warden.audit.erase(table, _key(key), columns=column, actor="cli", reason=reason)
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json(dataclasses.asdict(done))
        return
    console.print(
        f"[green]Erased[/] {escape(', '.join(done.columns))} of {escape(table)} "
        f"{escape(_short(done.keys, 60))}: {done.events} event(s), "
        f"{done.checkpoint_rows} checkpoint row(s) (erasure {done.erasure_id})"
    )


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        err_console.print("refusing without --yes: no terminal to ask on")
        return False
    return typer.confirm(question, default=False)


@audit_app.command()
def changes(
    ctx: typer.Context,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep waiting for more.")] = False,
    start: Annotated[int | None, typer.Option("--from", help="Resume after this event id.")] = None,
    table: Annotated[str | None, typer.Option("--table", "-t", help="Only this table.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    poll: Annotated[
        float, typer.Option("--poll", help="Seconds between checks when no NOTIFY arrives.")
    ] = 1.0,
) -> None:
    """The audit log as an ordered, resumable feed (never skips a late commit)."""
    warden = options(ctx).warden()
    stop = _stop_on_signals()
    try:
        with warden.connect(autocommit=True) as listener:
            position = (0, 0)
            if start is not None:
                from pgwarden.features.audit._runtime import position_of

                position = position_of(listener, start)
            if follow:
                listener.execute("LISTEN pgwarden_changes")
                # Held while following: capture sends its NOTIFY only while someone follows.
                listener.execute("select pg_advisory_lock_shared(%s)", (FOLLOWERS_LOCK,))
            while not stop():
                batch = warden.audit.changes(position, table=table)
                for event in batch:
                    _print_event(event, as_json)
                    position = event.position
                if batch:
                    continue
                if not follow:
                    return
                # NOTIFY wakes us at once; the poll also catches events that were held back
                # behind a transaction that has since ended without writing.
                for _ in listener.notifies(timeout=poll, stop_after=1):
                    pass
    except PgwardenError as exc:
        fail(exc)


def _print_event(event: Event, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(event.to_json(), default=str, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    who = f" by {escape(event.actor)}" if event.actor else ""
    console.print(
        f"{event.event_id}  {_time(event.at)}  {escape(event.table)}  {_OPS[event.op]:<8} "
        f"{escape(_short(event.key, 40))}{who}",
        soft_wrap=True,
    )


def _stop_on_signals() -> Callable[[], bool]:
    """SIGTERM / Ctrl-C end ``--follow`` after the current wait, without a traceback."""
    stopping = {"now": False}

    def handler(signum: int, frame: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return lambda: stopping["now"]


@audit_app.command("prune")
def prune_audit(
    ctx: typer.Context,
    batch: Annotated[int, typer.Option("--batch", help="Events deleted per transaction.")] = 10_000,
    as_json: AsJson = False,
) -> None:
    """Delete audit events older than each table's retention (audit = { retention = ... })."""
    try:
        removed = options(ctx).warden().audit.prune(batch=batch)
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json({"deleted": removed})
    else:
        console.print(f"Deleted {removed} audit event(s) past their retention.")


@audit_app.command("ingest")
def ingest_audit(
    ctx: typer.Context,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Keep ingesting, streaming the slot, until stopped (SIGTERM)."
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Write the audit events of tables captured from the WAL (audit = { capture = "wal" }).

    Reads (history, log, as-of, revert) through pgwarden ingest first; run this with
    --follow (or the worker) so that SQL readers and the feed see changes too.
    """
    warden = options(ctx).warden()
    try:
        if follow:
            stop = _stop_on_signals()
            # The follower makes tens of thousands of short-lived objects a second (rows,
            # values), nearly none in cycles: the collector ran every 700 of them. What is
            # loaded now stays put (frozen), and young objects are collected 100 times less
            # often (a side measurement of decoding and staging: 14.6 -> 12.6 µs per event).
            gc.freeze()
            gc.set_threshold(70_000, 10, 10)

            def report(done: Ingested) -> None:
                _report_ingested(done, as_json, quiet=not done.events)

            done = warden.audit.follow(stop=stop, progress=report if as_json else None)
        else:
            done = warden.audit.ingest()
    except PgwardenError as exc:
        fail(exc)
    _report_ingested(done, as_json, quiet=False)


def _report_ingested(done: Ingested, as_json: bool, *, quiet: bool) -> None:
    if as_json:
        print_json(
            {"transactions": done.transactions, "events": done.events,
             "lag_bytes": done.lag_bytes, "rejected_messages": done.rejected}
        )  # fmt: skip
        return
    if not quiet:
        console.print(
            f"Ingested {done.events} audit event(s) from {done.transactions} "
            f"transaction(s); {done.lag_bytes} byte(s) of WAL not yet read."
        )
    if done.rejected:
        console.print(
            f"[yellow]Dropped {done.rejected} message(s) with pgwarden's prefix that its "
            "capture did not sign (forged by a session?).[/yellow]"
        )


# The verbs users reach for most also stand at the top level: `pgwarden history t 42`.
SHORTCUTS: dict[str, Callable[..., None]] = {
    "history": history,
    "log": log,
    "revert": revert,
    "revert-transaction": revert_transaction,
    "changes": changes,
}


def register(app: typer.Typer) -> None:
    """``pgwarden audit ...`` and the top-level shortcuts."""
    app.add_typer(audit_app, name="audit")
    for name, command in SHORTCUTS.items():
        app.command(name)(command)
