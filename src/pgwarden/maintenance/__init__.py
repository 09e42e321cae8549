"""Maintenance: the recurring work features declare (purge, archive, retention, partitions).

Each feature contributes :class:`Job` values through ``Feature.jobs``; ``pgwarden maintain``
(and the worker) collect and run them in a stable order under one advisory lock, each job
in short transactions of its own.
"""

from pgwarden.maintenance._jobs import Job, JobContext, JobResult, Progress, in_batch
from pgwarden.maintenance._runner import (
    JOB_GROUP,
    MAINTAIN_LOCK,
    JobProvider,
    collect_jobs,
    job_providers,
    maintain,
    order_jobs,
    run_jobs,
)

__all__ = [
    "JOB_GROUP",
    "MAINTAIN_LOCK",
    "Job",
    "JobContext",
    "JobProvider",
    "JobResult",
    "Progress",
    "collect_jobs",
    "in_batch",
    "job_providers",
    "maintain",
    "order_jobs",
    "run_jobs",
]
