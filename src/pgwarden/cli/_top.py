"""The live view of ``pgwarden top``: a Rich table refreshed every ``interval`` seconds,
with keys to cancel or terminate a backend on a terminal."""

from __future__ import annotations

import contextlib
import os
import select
import sys
import time
from collections.abc import Iterator

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from pgwarden.cli._common import EXIT_ERROR, console, err_console
from pgwarden.ops.monitor import Activity, Monitor
from pgwarden.ops.monitor._checks.sessions import blocking_tree


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.0f}m" if seconds < 3600 else f"{seconds / 3600:.1f}h"


def render(rows: list[Activity]) -> Group:
    """The screen: a table of backends and the blocking tree under it."""
    table = Table(box=None, pad_edge=False, expand=True)
    for column in ("pid", "user", "app", "state", "wait", "time", "xact", "blocked by", "query"):
        table.add_column(column, no_wrap=column != "query", overflow="ellipsis")
    for a in rows:
        style = "red" if a.blocked_by else "yellow" if (a.state or "").startswith("idle in") else ""
        table.add_row(
            str(a.pid),
            escape(a.user or ""),
            escape(a.application[:20]),
            escape(a.state or ""),
            escape(a.wait or ""),
            _age(a.seconds),
            _age(a.xact_seconds),
            ",".join(map(str, a.blocked_by)),
            escape(" ".join(a.query.split())[:200]),
            style=style,
        )
    tree = blocking_tree([{"pid": a.pid, "blockers": list(a.blocked_by)} for a in rows])
    lines = [
        f"pid {root} blocks {', '.join(map(str, sorted(waiting)))}"
        for root, waiting in sorted(tree.items())
    ]
    active = sum(a.state == "active" for a in rows)
    head = Text(f"{len(rows)} sessions, {active} active, {len(tree)} blocking chain(s)")
    footer = Text("c: cancel  t: terminate  q: quit", style="dim")
    return Group(head, table, *(Text(line, style="red") for line in lines), footer)


@contextlib.contextmanager
def _keys() -> Iterator[bool]:
    """cbreak mode on a terminal (keys without Enter); yields whether keys can be read."""
    if not sys.stdin.isatty():
        yield False
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _key(timeout: float) -> str | None:
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    return os.read(sys.stdin.fileno(), 1).decode(errors="ignore") if ready else None


def signal(monitor: Monitor, cancel: int | None, terminate: int | None, *, yes: bool) -> None:
    """Cancel or terminate one backend after confirmation (``--cancel`` / ``--terminate``)."""
    pid, ending = (terminate, True) if terminate is not None else (cancel, False)
    assert pid is not None
    verb = "terminate the session of" if ending else "cancel the query of"
    if not yes:
        if not sys.stdin.isatty():
            err_console.print("refusing to signal a backend without --yes: no terminal to ask on")
            raise typer.Exit(EXIT_ERROR)
        if not typer.confirm(f"{verb.capitalize()} pid {pid}?", default=False):
            raise typer.Exit(EXIT_ERROR)
    done = monitor.terminate(pid) if ending else monitor.cancel(pid)
    if not done:
        err_console.print(f"pid {pid} was not signalled (gone, or not yours to signal)")
        raise typer.Exit(EXIT_ERROR)
    console.print(f"[green]{'terminated' if ending else 'cancelled'}[/] pid {pid}")


def run_top(monitor: Monitor, *, interval: float, iterations: int | None) -> None:
    """Refresh every ``interval`` seconds until ``q`` (or ``iterations`` refreshes)."""
    done = 0
    with _keys() as interactive, Live(console=console, auto_refresh=False) as live:
        while iterations is None or done < iterations:
            live.update(render(monitor.activity()), refresh=True)
            done += 1
            if iterations is not None and done >= iterations:
                break
            key = _key(interval) if interactive else None
            if not interactive:
                time.sleep(interval)
            if key == "q":
                break
            if key in ("c", "t"):
                live.stop()
                answer = typer.prompt("pid", default="", show_default=False)
                if answer.strip().isdigit():
                    with contextlib.suppress(typer.Exit):
                        signal(monitor, None if key == "t" else int(answer),
                               int(answer) if key == "t" else None, yes=False)  # fmt: skip
                live.start()
