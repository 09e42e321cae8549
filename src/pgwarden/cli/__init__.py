"""The ``pgwarden`` command line."""

from pgwarden.cli import _audit, _demo, _init, _server  # noqa: F401  (they register commands)
from pgwarden.cli._app import app, main

__all__ = ["app", "main"]
