"""The ``pgwarden`` command line."""

from pgwarden.cli import (  # noqa: F401  (they register commands)
    _archive,
    _audit,
    _demo,
    _init,
    _kitaab,
    _maintain,
    _partitions,
    _server,
    _soft_delete,
    _worker,
)
from pgwarden.cli._app import app, main

__all__ = ["app", "main"]
