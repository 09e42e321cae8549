"""What a maintenance job is: something due, run in short transactions, that reports rows."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg

from pgwarden._names import QualifiedName
from pgwarden.spec import Spec

if TYPE_CHECKING:
    from pgwarden.features import Feature

T = TypeVar("T")

Progress = Callable[[int, int | None], None]
"""``progress(done, total)``: rows done so far, and the total when it is known."""


def _no_progress(done: int, total: int | None) -> None:
    return None


@dataclass
class JobContext:
    """What a running job may use.

    ``conn`` is in autocommit: a job opens its own short transactions (one batch each), so
    that stopping it at any moment loses nothing that was committed and repeats nothing.
    """

    conn: psycopg.Connection[Any]
    spec: Spec
    now: dt.datetime
    """The maintenance clock: tests pass their own; jobs compare ages with this, not now()."""
    dry_run: bool = False
    batch: int = 10_000
    progress: Progress = _no_progress
    connect: Callable[[], psycopg.Connection[Any]] | None = None
    """Opens another connection to the same database (for work that needs two)."""
    features: Mapping[str, Feature] = field(default_factory=dict)
    """The installed features (by name): for jobs that hand work to another feature (a
    partition retention handing a partition over to the archive) or whose work other features'
    objects must follow (through :func:`pgwarden.engine.apply_scoped`)."""

    @property
    def lock_timeout_ms(self) -> int:
        return self.spec.database.lock_timeout.milliseconds

    @property
    def retries(self) -> int:
        return self.spec.database.retries


@dataclass(frozen=True)
class JobResult:
    """What one job did (or, in a dry run, would do)."""

    job: str
    feature: str
    table: QualifiedName | None
    rows: int
    seconds: float
    detail: str = ""
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "feature": self.feature,
            "table": str(self.table) if self.table else None,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
            "dry_run": self.dry_run,
        }


@dataclass(frozen=True)
class Job:
    """One due piece of maintenance, contributed by a feature (see ``Feature.jobs``) or a
    job provider (``pgwarden.jobs``).

    ``run`` does the work and returns ``(rows, detail)``; the runner times it. ``after`` and
    ``before`` name other jobs (by ``name``) this one must follow or precede when both are
    due: partitions are made before rows are moved into them, rows are archived before
    retention removes archives. Names that are not due are ignored.
    """

    name: str
    feature: str
    table: QualifiedName | None
    description: str
    run: Callable[[JobContext], tuple[int, str]]
    after: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    estimate: Callable[[JobContext], int | None] | None = field(default=None, compare=False)
    """Rows the job expects to touch (for a progress bar's total), when cheap to know."""


_RETRYABLE = (
    psycopg.errors.LockNotAvailable,
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
)


def in_batch(ctx: JobContext, work: Callable[[psycopg.Connection[Any]], T]) -> T:
    """Run ``work(conn)`` as one transaction with the declared ``lock_timeout``, as pgwarden
    itself acting (``pgwarden.actor``), retried with jittered backoff when a lock is not
    granted in time or the transaction conflicts. Each call commits or changes nothing."""
    attempt = 0
    while True:
        try:
            with ctx.conn.transaction():
                ctx.conn.execute(
                    "select set_config('lock_timeout', %s, true), "
                    "set_config('pgwarden.actor', 'pgwarden', true)",
                    (f"{ctx.lock_timeout_ms}ms",),
                )
                return work(ctx.conn)
        except _RETRYABLE:
            attempt += 1
            if attempt > ctx.retries:
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))
