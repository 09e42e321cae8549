"""``pgwarden replicas``: the replicas read-only sessions use, their state and lag, now."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from pgwarden.cli._app import app
from pgwarden.cli._common import EXIT_PENDING, console, fail, options, print_json
from pgwarden.errors import PgwardenError


@app.command("replicas")
def replicas(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Measure each replica of [database] replicas now: state (ok, lagging, down,
    not-a-standby), lag as an upper bound in seconds and in WAL bytes, replay position, and
    whether replay is paused. Exit 2 when one is not ok (read-only sessions avoid it)."""
    try:
        warden = options(ctx).warden()
        found = warden.replicas
        if found is None:
            states: list[dict[str, object]] = []
            max_lag = warden.spec.database.max_lag.seconds
        else:
            measured = found.measure()
            now, max_lag = time.monotonic(), found.max_lag
            states = [s.as_dict(now, max_lag) for s in measured]
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json({"max_lag_seconds": max_lag, "replicas": states})
    elif not states:
        console.print("no replicas: [database] replicas is empty; reads use the primary")
    for state in [] if as_json else states:
        color = "green" if state["state"] == "ok" else "red"
        lag = "unknown" if state["lag_seconds"] is None else f"{state['lag_seconds']:.3f}s"
        console.print(
            f"[{color}]{state['state']:<13}[/] {state['name']}  lag {lag}"
            f" ({state['lag_bytes'] if state['lag_bytes'] is not None else '?'} bytes),"
            f" replayed {state['replay_lsn'] or '?'}"
            + (", replay paused" if state["replay_paused"] else "")
            + (f"  [dim]{state['error']}[/]" if state["error"] else "")
        )
    if any(s["state"] != "ok" for s in states):
        raise typer.Exit(EXIT_PENDING)
