"""``pgwarden worker``: run maintenance on the ``[worker]`` schedule until stopped."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType
from typing import Annotated

import typer

from pgwarden.cli._app import app
from pgwarden.cli._common import fail, options
from pgwarden.errors import PgwardenError
from pgwarden.maintenance._worker import Worker


@app.command()
def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One tick, then exit.")] = False,
) -> None:
    """Run due maintenance jobs on the [worker] schedule (intervals, time-of-day windows).

    One runner per database across processes (the maintenance advisory lock): a second
    worker waits its turn. Logs one line per job on stderr. SIGTERM or Ctrl-C: the running
    job finishes its batch, then the worker exits 0. Does nothing on a standby.
    """
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        warden = options(ctx).warden()
    except PgwardenError as exc:
        fail(exc)
    runner = Worker(
        connect=lambda: warden.connect(autocommit=True),
        spec=warden.spec,
        features=warden.features,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("pgwarden.worker").info(
            "%s received: stopping after the current job", signal.Signals(signum).name
        )
        runner.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger("pgwarden.worker").info(
        "worker started (tick %s, every %s)", warden.spec.worker.tick, warden.spec.worker.every
    )
    try:
        runner.run(ticks=1 if once else None)
    except PgwardenError as exc:
        fail(exc)
