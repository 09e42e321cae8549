"""``pgwarden trading install | generate | ingest | serve | demo``."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from pgwarden.blueprints import _serve, trading
from pgwarden.cli._common import console, fail, options, print_json
from pgwarden.errors import PgwardenError

trading_app = typer.Typer(
    help="The trading blueprint (seed 004): install its schema and policies, generate or "
    "ingest market data, serve its API with live metrics.",
    no_args_is_help=True,
)

Port = Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).")]


def database_url(ctx: typer.Context) -> str:
    """The URL the global options lead to (the embedded server is started if needed)."""
    try:
        return options(ctx).warden().url
    except PgwardenError as exc:
        fail(exc)


def install_with_output(url: str) -> None:
    with console.status("Migrations, then pgwarden apply…") as status:
        trading.install(url, step=lambda s: status.update(f"trading: {s}…")).close()


def service(url: str, pool_size: int = 10) -> Any:
    from pgwarden.blueprints.trading.services import Trading
    from pgwarden.warden import Warden

    return Trading(Warden(url, spec=trading.declaration(), pool_size=pool_size))


@trading_app.command("install")
def install_command(ctx: typer.Context) -> None:
    """Run the migrations, apply pgwarden.toml, convert CASCADE keys to RESTRICT, make the
    market-data partitions (idempotent)."""
    url = database_url(ctx)
    install_with_output(url)
    console.print("[green]trading installed[/] (schema trading, policies applied).")


def load(url: str, **kw: Any) -> Any:
    """Generate with a progress display (accounts, ticks, orders)."""
    from pgwarden.blueprints.trading.generate import generate

    return _serve.generate_with_progress(service(url), generate, console, **kw)


@trading_app.command("generate")
def generate_command(
    ctx: typer.Context,
    instruments: Annotated[int, typer.Option(min=1, help="Instruments.")] = 10,
    accounts: Annotated[int, typer.Option(min=1, help="Accounts.")] = 20,
    days: Annotated[int, typer.Option(min=1, help="Days of ticks, up to today.")] = 3,
    ticks_per_day: Annotated[int, typer.Option(min=1, help="Ticks a day per instrument.")] = 10_000,
    orders: Annotated[int, typer.Option(min=0, help="Orders placed through the services.")] = 500,
    json_output: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Generate instruments, accounts, ticks (bulk COPY, idempotent batches: run it again after
    an interruption), bars, and orders with fills. Installs the blueprint first if needed."""
    url = database_url(ctx)
    install_with_output(url)
    started = time.monotonic()
    result = load(url, instruments=instruments, accounts=accounts, days=days,
                  ticks_per_day=ticks_per_day, orders=orders)  # fmt: skip
    took = time.monotonic() - started
    if json_output:
        print_json({**result.__dict__, "seconds": round(took, 2)})
        return
    console.print(
        f"[green]{result.ticks:,} ticks, {result.orders:,} orders, {result.fills:,} fills[/] "
        f"({result.instruments} instruments, {result.accounts} accounts) in {took:.1f}s."
    )


@trading_app.command("ingest")
def ingest_command(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV of instrument_id,ts,seq,price,size; - for stdin.", allow_dash=True
        ),
    ],
    key: Annotated[str, typer.Option(help="Batch key prefix (default: the file name).")] = "",
    batch_size: Annotated[int, typer.Option(min=1, help="Rows a batch.")] = 50_000,
    workers: Annotated[
        int, typer.Option(min=1, help="Batches sent at once, one connection each.")
    ] = 1,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Bulk-ingest ticks by COPY in idempotent batches: run it again on the same file after
    a failure and only the missing batches are written. Exit 1 on a refused batch."""
    from pgwarden.blueprints.trading.services import TradingError

    url = database_url(ctx)
    app = service(url)
    started = time.monotonic()
    try:
        with (
            contextlib.nullcontext(sys.stdin) if str(path) == "-" else path.open() as source,
            console.status("ingesting…") as status,
        ):
            done = app.market.ingest_csv(
                source, key=key or path.name, batch_size=batch_size, workers=workers,
                progress=lambda rows: status.update(f"ingesting… {rows:,} rows"),
            )  # fmt: skip
    except TradingError as exc:
        console.print(f"[red]refused[/]: {exc.message}")
        raise typer.Exit(1) from None
    except OSError as exc:
        console.print(f"[red]cannot read {path}[/]: {exc.strerror}")
        raise typer.Exit(2) from None
    finally:
        app.warden.close()
    took = time.monotonic() - started
    if json_output:
        print_json({**done.__dict__, "seconds": round(took, 3)})
        return
    console.print(f"[green]{done.rows:,} rows[/] in {done.batches} batch(es), {done.skipped} "
                  f"already in; {done.rows / max(took, 1e-9):,.0f} rows/s.")  # fmt: skip


free_port = _serve.free_port
FAST = _serve.FAST


def make_server(url: str, port: int, pool_size: int = 10) -> Any:
    from pgwarden.blueprints.trading.api import create_app

    return _serve.server(create_app(service(url, pool_size), close=True), port)


def print_access(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    console.print(f"\n[bold]trading API[/]: {base}   (OpenAPI: {base}/docs)")
    console.print(f"  live metrics: ws://127.0.0.1:{port}/live   dashboard: {base}/pgwarden/")


@contextlib.contextmanager
def running(url: str, port: int = 0) -> Iterator[str]:
    """The API served in a thread for the duration of the block; yields its base URL."""
    with _serve.in_thread(make_server(url, free_port(port)), "trading API") as base:
        yield base


_WORKER_URL = "PGWARDEN_TRADING_WORKER_URL"
_WORKER_POOL = "PGWARDEN_TRADING_WORKER_POOL"


def worker_app() -> Any:
    """The app of one of ``serve --workers N``'s processes (uvicorn imports it by name)."""
    from pgwarden.blueprints.trading.api import create_app

    pool = int(os.environ.get(_WORKER_POOL, "10"))
    return create_app(service(os.environ[_WORKER_URL], pool), close=True)


@trading_app.command("serve")
def serve_command(
    ctx: typer.Context,
    port: Port = 8000,
    pool_size: Annotated[int, typer.Option(min=1, help="Database connections (pool max).")] = 10,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Server processes (one per core is typical).")
    ] = 1,
) -> None:
    """Serve the trading API (and pgwarden's health, metrics, live view at /pgwarden) on
    127.0.0.1 until Ctrl-C. Installs the blueprint first if needed. With --workers N, each
    process has its own pools and its own counters (``/stats`` is per process)."""
    url = database_url(ctx)
    install_with_output(url)
    if workers > 1:
        import uvicorn

        port = free_port(port)
        print_access(port)
        console.print(f"[dim]{workers} server processes. Ctrl-C to stop.[/]")
        os.environ[_WORKER_URL] = url
        os.environ[_WORKER_POOL] = str(pool_size)
        uvicorn.run(
            f"{__name__}:worker_app", factory=True, host="127.0.0.1", port=port,
            workers=workers, log_level="warning", **FAST,
        )  # fmt: skip
        return
    server = make_server(url, free_port(port), pool_size)
    print_access(server.config.port)
    console.print("[dim]Ctrl-C to stop.[/]")
    server.run()


@trading_app.command("demo")
def demo_command(
    ctx: typer.Context,
    port: Port = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop once loaded.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Prove the API answers, exit.")] = False,
) -> None:
    """The demo (same as ``pgwarden demo trading``)."""
    from pgwarden.blueprints.trading._demo import run_demo

    run_demo(ctx, port=port, serve=not no_serve, check=check)
