"""``materialized_views``: declared materialized views, refreshed on a schedule, rebuilt safely.

Declared as top-level sections (no table declares a view)::

    [materialized_views."analytics.daily_task_summary"]
    file = "views/daily_task_summary.sql"     # or query = "select ..."
    unique_key = ["user_id", "day"]           # refreshes run CONCURRENTLY
    indexes = [["day"]]
    refresh = "5 min"                         # and/or window = "01:00-05:00"
    timezone = "Europe/Paris"
    max_staleness = "15 min"

The view is one owned object (its query and indexes): built by apply, drift shown, removed
exactly; a changed query is built beside and swapped. Refreshes run from ``pgwarden maintain``
/ ``pgwarden worker`` (job ``view-refresh``), one at a time per view, each recorded in
``warden.view_refreshes`` with a retention; staleness is a ``status`` line and
``warden.materialized_views.staleness()``. See ``docs/materialized-views.md``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.catalog import Catalog, Table
from pgwarden.engine import DesiredObject, Kind, Stream
from pgwarden.errors import FeatureNotApplicable, PgwardenError
from pgwarden.features._base import Feature, FeatureAPI, PlanContext
from pgwarden.features.audit import wal_possible
from pgwarden.features.materialized_views._incremental import (
    INCREMENTAL_VIEW,
    Incremental,
    incremental_object,
    qualify,
)
from pgwarden.features.materialized_views._objects import MATERIALIZED_VIEW, view_object
from pgwarden.features.materialized_views._options import (
    SECTION,
    MaterializedViewsSection,
    ViewSpec,
    declared_views,
    view_query,
)
from pgwarden.features.materialized_views._refresh import Refreshed, last_refresh, refresh
from pgwarden.features.materialized_views._schedule import is_due
from pgwarden.features.materialized_views._shape import NotIncremental
from pgwarden.maintenance import Job, JobContext
from pgwarden.spec import FeatureOptions, Spec

if TYPE_CHECKING:
    import typer

__all__ = [
    "Incremental",
    "MaterializedViews",
    "MaterializedViewsAPI",
    "MaterializedViewsSection",
    "Refreshed",
    "Staleness",
    "ViewSpec",
    "jobs",
    "resolve",
]

JOB = "view-refresh"


@dataclass(frozen=True)
class Staleness:
    """How old a declared view's data is."""

    view: str
    last_refresh: dt.datetime | None
    age_seconds: float | None
    """Seconds since the last successful refresh started (None: never refreshed)."""
    max_staleness_seconds: float | None
    stale: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "last_refresh": self.last_refresh.isoformat() if self.last_refresh else None,
            "age_seconds": self.age_seconds,
            "max_staleness_seconds": self.max_staleness_seconds,
            "stale": self.stale,
        }


def staleness(
    conn: psycopg.Connection[Any], spec: Spec, now: dt.datetime | None = None
) -> list[Staleness]:
    """Every declared view's age against its ``max_staleness`` (the metric for ``serve``)."""
    now = now or dt.datetime.now(dt.UTC)
    found = []
    for name, view in declared_views(spec).items():
        last = last_refresh(conn, name)
        age = (now - last).total_seconds() if last else None
        limit = view.max_staleness.seconds if view.max_staleness else None
        stale = limit is not None and (age is None or age > limit)
        found.append(Staleness(str(name), last, age, limit, stale))
    return found


def resolve(
    conn: psycopg.Connection[Any], spec: Spec, name: QualifiedName, view: ViewSpec
) -> Incremental | None:
    """``name`` as an incremental view (None: a materialized view); a view declared
    ``incremental`` whose query no longer qualifies is a clear error."""
    if not view.incremental:
        return None
    query = view_query(spec, name, view)
    try:
        return qualify(conn, spec, name, view, query, _Probe(conn).columns(name, query))
    except NotIncremental as exc:
        raise FeatureNotApplicable(str(name), "incremental", str(exc)) from None


class MaterializedViewsAPI(FeatureAPI):
    """``warden.materialized_views``: refresh now, staleness, the refresh log."""

    def refresh(self, view: str, *, full: bool = False) -> Refreshed:
        """Refresh one declared view now: an incremental view applies the changes since its
        last refresh (``full``: computes itself whole); a materialized view refreshes
        concurrently when it has a unique key."""
        name = QualifiedName.parse(view)
        declared = declared_views(self.warden.spec)
        if name not in declared:
            raise PgwardenError(f"{name} is not a declared materialized view")
        spec = self.warden.spec
        if declared[name].incremental and wal_possible(spec):
            self.warden.audit.ingest()  # events still in the WAL are written first
        with self.warden.connect(autocommit=True) as conn:
            return refresh(
                conn,
                name,
                declared[name],
                now=dt.datetime.now(dt.UTC),
                lock_timeout_ms=spec.database.lock_timeout.milliseconds,
                incremental=resolve(conn, spec, name, declared[name]),
                full=full,
            )

    def staleness(self) -> list[Staleness]:
        """Each declared view's age since its last refresh, and whether it is stale."""
        with self.warden.connect(autocommit=True) as conn:
            return staleness(conn, self.warden.spec)


class _Probe:
    """Reads done while planning: the declared query prepared alone on the server (one
    statement, a valid SELECT) and its columns."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def columns(self, name: QualifiedName, query: str) -> list[str]:
        try:
            with self.conn.transaction():  # a savepoint when planning inside a transaction
                cur = self.conn.execute(
                    sql.SQL("SELECT * FROM ({}) AS q LIMIT 0").format(sql.SQL(query)),
                    prepare=True,
                )
        except psycopg.Error as exc:
            raise FeatureNotApplicable(
                str(name), SECTION, f"its query fails: {exc.diag.message_primary or exc}"
            ) from None
        return [d.name for d in cur.description or ()]


class MaterializedViews(Feature):
    name = "materialized_views"
    summary = "declared materialized views: scheduled (concurrent) refresh, safe rebuild, log"
    options: ClassVar[type[FeatureOptions]] = FeatureOptions
    api = MaterializedViewsAPI

    def kinds(self) -> list[Kind]:
        return [MATERIALIZED_VIEW, INCREMENTAL_VIEW]

    def stream(self) -> Stream:
        """The refresh log (``migrations/``): ``warden.view_refreshes``."""
        return Stream(self.name, __name__)

    def prepare(self, conn: psycopg.Connection[Any]) -> Any:
        return _Probe(conn)

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        raise FeatureNotApplicable(
            str(table.name),
            self.name,
            'views are declared as [materialized_views."schema.name"] sections, not per table',
        )

    def database_objects(self, ctx: PlanContext) -> list[DesiredObject]:
        """One object per declared view: a materialized view and its indexes, or an
        incremental view (its table, indexes and feed position). Each plan line says whether
        the view qualifies for ``incremental``, and if not, why."""
        probe = ctx.state.get(self.name)
        found = []
        for name, view in declared_views(ctx.spec).items():
            query = view_query(ctx.spec, name, view)
            if not isinstance(probe, _Probe):
                if view.incremental:
                    raise FeatureNotApplicable(
                        str(name), "incremental", "needs the database to plan (no connection)"
                    )
                found.append(view_object(name, query, view))
                continue
            columns = probe.columns(name, query)
            for column in (*view.unique_key, *(c for i in view.indexes for c in i)):
                if column not in columns:
                    raise FeatureNotApplicable(
                        str(name), self.name, f"its query has no column {column!r}"
                    )
            try:
                inc = qualify(probe.conn, ctx.spec, name, view, query, columns)
                why = None
            except NotIncremental as exc:
                inc, why = None, str(exc)
            if view.incremental:
                if inc is None:
                    raise FeatureNotApplicable(str(name), "incremental", f"{why}")
                found.append(incremental_object(inc, view))
                continue
            note = "could be incremental = true" if inc else f"not incremental: {why}"
            found.append(view_object(name, query, view, note=note))
        return found

    def health(self, conn: psycopg.Connection[Any], spec: Spec) -> list[str]:
        lines = []
        for s in staleness(conn, spec):
            age = (
                "never refreshed"
                if s.age_seconds is None
                else f"refreshed {s.age_seconds:.0f}s ago"
            )
            limit = f" (max {s.max_staleness_seconds:.0f}s)" if s.max_staleness_seconds else ""
            lines.append(f"view {s.view}: {age}{limit}{' STALE' if s.stale else ''}")
        return lines

    def commands(self, app: typer.Typer) -> None:
        from pgwarden.features.materialized_views._cli import register

        register(app)


def jobs(spec: Spec, catalog: Catalog) -> list[Job]:
    """The ``view-refresh`` job (``pgwarden.jobs``): refreshes each declared view that is due
    at the maintenance clock (its ``refresh`` interval, inside its ``window``, local time)."""
    views = declared_views(spec)
    if not views:
        return []

    def run(ctx: JobContext) -> tuple[int, str]:
        done: list[str] = []
        rows = 0
        for name, view in views.items():
            if not is_due(view, ctx.now, last_refresh(ctx.conn, name)):
                continue
            if ctx.dry_run:
                done.append(f"{name} (due)")
                continue
            result = refresh(
                ctx.conn,
                name,
                view,
                now=ctx.now,
                lock_timeout_ms=ctx.lock_timeout_ms,
                incremental=resolve(ctx.conn, spec, name, view),
            )
            if result.skipped:
                done.append(f"{name} skipped: {result.skipped}")
                continue
            rows += result.rows or 0
            how = "concurrently" if result.concurrently else "plainly"
            if result.incremental:
                how = f"{result.events} changes" if result.events is not None else "whole"
            done.append(f"{name} {how} in {result.seconds:.2f}s")
        return rows, "; ".join(done) or "no view due"

    return [
        Job(
            name=JOB,
            feature=MaterializedViews.name,
            table=None,
            description="refresh the declared materialized views that are due",
            run=run,
            # Events still in the WAL are written before incremental views read the feed.
            after=("audit-ingest",),
        )
    ]
