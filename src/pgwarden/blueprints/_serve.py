"""Serving a blueprint's API from its CLI: a free port, uvicorn's fast settings, and the API
run in a thread for the length of a block (demos' ``--check``)."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
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
