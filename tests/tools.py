"""Real peers the tests drive (Chromium, PgBouncer, Prometheus, pgBackRest): find them or say why not.

They are Debian packages listed in ``.ci/apt-packages``. CI installs them and sets
``PGWARDEN_REQUIRE_TOOLS=1``, so there a missing one fails the test; elsewhere it is skipped
with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def require_tool(name: str, *candidates: str) -> str:
    """The path of executable ``name`` (or the first of ``candidates`` that exists)."""
    for candidate in (name, *candidates):
        found = shutil.which(candidate) or (candidate if os.access(candidate, os.X_OK) else None)
        if found:
            return found
    message = (
        f"{name} is not installed (Debian package listed in .ci/apt-packages: make system-packages)"
    )
    if os.environ.get("PGWARDEN_REQUIRE_TOOLS"):
        pytest.fail(message)
    pytest.skip(message)


PG15_BIN = Path("/usr/lib/postgresql/15/bin")


def server_bin_dir() -> Path:
    """Binaries for servers a test starts itself (replication, slots...): the machine's
    PostgreSQL 15 under PGWARDEN_TEST_DSN (CI's second run), else the embedded PostgreSQL 18,
    so each CI run exercises its own version once."""
    if os.environ.get("PGWARDEN_TEST_DSN"):
        if not (PG15_BIN / "postgres").is_file():
            pytest.fail(f"PGWARDEN_TEST_DSN is set but {PG15_BIN} has no PostgreSQL 15")
        return PG15_BIN
    from pgwarden.server import bin_path

    return bin_path()
