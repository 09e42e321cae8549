"""The monitor's maintenance jobs (entry point ``pgwarden.jobs``): snapshot, alerts, and the
opt-in VACUUM / REINDEX jobs."""

from __future__ import annotations

from pgwarden.catalog import Catalog
from pgwarden.maintenance import Job
from pgwarden.spec import Spec


def jobs(spec: Spec, catalog: Catalog) -> list[Job]:
    """The jobs ``[monitor]`` declares (none when the file has no ``[monitor]`` section)."""
    return []
