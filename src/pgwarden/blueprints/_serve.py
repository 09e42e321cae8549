"""What blueprints' CLIs share: a free port, uvicorn's fast settings, the API run in a thread
for the length of a block (demos' ``--check``), and a generator's progress drawn."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def free_port(wanted: int) -> int:
    """``wanted`` when it is free on 127.0.0.1 (0 or taken: any free port)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", wanted))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# uvloop's event loop and httptools' parser named rather than left to "auto", and no access
# log: the server's CPU per request is the bound.
FAST: dict[str, Any] = (
    {"loop": "uvloop", "http": "httptools", "access_log": False}
    if sys.platform != "win32"
    else {"http": "httptools", "access_log": False}
)


def server(app: Any, port: int) -> Any:
    """A uvicorn server of ``app`` on 127.0.0.1:``port`` (not started)."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **FAST)
    return uvicorn.Server(config)


@contextlib.contextmanager
def in_thread(served: Any, name: str) -> Iterator[str]:
    """``served`` (a uvicorn server) run in a thread for the block; yields its base URL."""
    thread = threading.Thread(target=served.run, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not served.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {name} did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{served.config.port}"
    finally:
        served.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def progress_lines(console: Any) -> Iterator[Callable[[str, int], None]]:
    """A generator's ``progress(what, n)`` drawn as one line per ``what`` (its count so far
    and the time taken) on ``console`` (rich), for the block."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]generating[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        lines: dict[str, Any] = {}

        def progress(what: str, n: int) -> None:
            if what not in lines:
                lines[what] = bar.add_task(what, total=None)
            bar.update(lines[what], completed=n)

        yield progress


def generate_with_progress(app: Any, generate: Callable[..., Any], console: Any, **kw: Any) -> Any:
    """``generate(app, progress=..., **kw)`` with its progress drawn on ``console``; the
    service's pool is closed afterwards."""
    try:
        with progress_lines(console) as progress:
            return generate(app, progress=progress, **kw)
    finally:
        app.warden.close()


def demo_database(ctx: Any, title: str, schema: str, migrate: Callable[[str], None]) -> str:
    """A demo's first two steps: the database the global options lead to (the embedded
    server started if needed), its schema migrated; says both. Returns its URL."""
    from pgwarden.cli._common import console, options

    opts = options(ctx)
    with console.status("Starting the database…"):
        base = opts.warden()
    console.print(f"[bold]1.[/] Database: {opts.target_display()}.")
    migrate(base.url)
    console.print(f"[bold]2.[/] {title} schema migrated (Alembic, schema [bold]{schema}[/]).")
    return str(base.url)


def planned(changes: Iterable[Any]) -> str:
    """``pgwarden.toml planned: N change(s) (audit 12, ...)`` for a plan's changes."""
    listed = list(changes)
    features = Counter(c.feature for c in listed)
    summary = ", ".join(f"{name} {n}" for name, n in sorted(features.items())) or "none"
    return f"pgwarden.toml planned: {len(listed)} change(s) ({summary})."
