"""Demo and benchmark data for the workspace blueprint: organizations signed up through the
services, then per organization its users, projects, tasks (in bulk: one statement per
thousand), short dependency chains through the graph feature's checks, prompts, and events
through the idempotent ingest path. Everything is written as the app role, in each
organization's signed tenant session, so row-level security judges every row.

Deterministic for a given ``seed``; ingest is idempotent, so a second run adds no events.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pgwarden.blueprints.workspace.services import Caller, Event, Workspace
from pgwarden.db import Session

WORDS = [
    "migrate",
    "billing",
    "schema",
    "login",
    "redirect",
    "report",
    "cache",
    "queue",
    "webhook",
    "search",
    "index",
    "dashboard",
    "export",
    "import",
    "onboarding",
    "invoice",
    "retry",
    "timeout",
    "deploy",
    "rollback",
    "audit",
    "partition",
    "metrics",
    "alert",
    "latency",
    "review",
    "refactor",
    "docs",
    "api",
    "client",
    "mobile",
]
STATUSES = ("todo", "todo", "in_progress", "blocked", "done", "done", "done", "cancelled")
CHAIN = 5
"""Tasks come in chains of this many, each waiting on the one before (short chains, as
work is; the graph's cycle walk costs what the new edge's target reaches)."""


@dataclass(frozen=True)
class Generated:
    organizations: int
    tasks: int
    dependencies: int
    events: int
    callers: tuple[Caller, ...]


_TASKS = """
insert into workspace.tasks (organization_id, project_id, title, description, status, priority,
    assignee_id, created_by, metadata, estimated_minutes, actual_duration_minutes,
    completed_at, created_at)
select %(org)s, p, t, d, s::workspace.task_status, pr, a, a, '{}', e, m,
       case when s = 'done' then c + interval '1 day' end, c
  from unnest(%(project)s::bigint[], %(title)s::text[], %(description)s::text[],
              %(status)s::text[], %(priority)s::smallint[], %(assignee)s::bigint[],
              %(estimate)s::int[], %(minutes)s::int[], %(created)s::timestamptz[])
       as u(p, t, d, s, pr, a, e, m, c)
returning task_id
"""


def _title(rng: random.Random) -> str:
    return " ".join(rng.sample(WORDS, 3)).capitalize()


def generate(
    app: Workspace,
    *,
    organizations: int = 3,
    tasks: int = 300,
    events: int = 3_000,
    days: int = 30,
    now: dt.datetime | None = None,
    seed: int = 2,
    prefix: str = "gen",
    progress: Callable[[str, int], None] | None = None,
) -> Generated:
    """``organizations`` organizations (slugs ``<prefix>-<seed>-<n>``: another seed or prefix
    for a second run), ``tasks`` tasks and ``events`` events spread over them and over
    the ``days`` days up to ``now``."""
    say = progress or (lambda _what, _n: None)
    rng = random.Random(seed)
    now = now or dt.datetime.now(dt.UTC)
    callers = []
    for n in range(organizations):
        slug = f"{prefix}-{seed}-{n}"
        _, owner, _ = app.orgs.create(f"Org {n}", slug, f"owner@{slug}.test", "Owner")
        caller = Caller(owner["organization_id"], owner["user_id"])
        for k in range(4):
            app.orgs.add_user(caller, f"user{k}@{slug}.test", f"User {k}")
        callers.append(caller)
        say("organizations", n + 1)
    made = edges = 0
    per_org = max(1, tasks // organizations)
    for caller in callers:
        work = functools.partial(_tasks, caller=caller, n=per_org, days=days, now=now, rng=rng)
        ids = app.core.run(caller, work, reason="generate")
        made += len(ids)
        edges += _chains(app, caller, ids)
        say("tasks", made)
        for k in range(3):
            app.prompts.save(
                caller, f"prompt-{k}", f"{_title(rng)} for {{ticket}}", tags=[rng.choice(WORDS)]
            )
    stored = 0
    per_org_events = events // organizations
    for caller in callers if per_org_events else ():
        stored += app.events.ingest(caller, _events(caller, per_org_events, days, now, seed)).stored
        say("events", stored)
    return Generated(organizations, made, edges, stored, tuple(callers))


def _tasks(
    db: Session, *, caller: Caller, n: int, days: int, now: dt.datetime, rng: random.Random
) -> list[int]:
    users = [r[0] for r in db.execute("select user_id from workspace.users").fetchall()]
    projects = [
        db.execute(
            "insert into workspace.projects (organization_id, name, created_by)"
            " values (%s, %s, %s) returning project_id",
            [caller.organization_id, f"Project {k}", caller.user_id],
        ).fetchone()[0]
        for k in range(max(1, n // 500))
    ]
    ids: list[int] = []
    for start in range(0, n, 1000):
        size = min(1000, n - start)
        status = [rng.choice(STATUSES) for _ in range(size)]
        params = {
            "org": caller.organization_id,
            "project": [rng.choice(projects) for _ in range(size)],
            "title": [_title(rng) for _ in range(size)],
            "description": [" ".join(rng.sample(WORDS, 8)) for _ in range(size)],
            "status": status,
            "priority": [rng.randint(1, 5) for _ in range(size)],
            "assignee": [rng.choice(users) for _ in range(size)],
            "estimate": [rng.choice((30, 60, 120, 240)) for _ in range(size)],
            "minutes": [rng.randint(10, 300) if s == "done" else None for s in status],
            "created": [now - dt.timedelta(days=days * rng.random()) for _ in range(size)],
        }
        ids.extend(r[0] for r in db.execute(_TASKS, params).fetchall())
    return ids


def _chains(app: Workspace, caller: Caller, ids: list[int]) -> int:
    """Each task waits on the one before it in its chain of :data:`CHAIN`: written in one
    statement per thousand edges, each checked by the graph feature's trigger."""
    pairs = [(ids[i], ids[i - 1]) for i in range(len(ids)) if i % CHAIN]
    for start in range(0, len(pairs), 1000):
        chunk = pairs[start : start + 1000]
        app.core.run(caller, functools.partial(_edges, caller=caller, pairs=chunk))
    return len(pairs)


def _edges(db: Session, *, caller: Caller, pairs: list[tuple[int, int]]) -> None:
    db.execute(
        "insert into workspace.task_dependencies (organization_id, task_id, depends_on_id)"
        " select %s, a, b from unnest(%s::bigint[], %s::bigint[]) u(a, b)",
        [caller.organization_id, [a for a, _ in pairs], [b for _, b in pairs]],
    )


def events_for(org: int, n: int, days: int, now: dt.datetime, seed: int) -> Iterator[Event]:
    """``n`` webhook events of one organization over the ``days`` days up to ``now``: the
    same ones for the same arguments (ids ``<seed>-<org>-<k>``), so sending them again
    stores nothing."""
    rng = random.Random(f"{seed}-{org}")
    kinds = {
        "linear": ("Issue.create", "Issue.update", "Comment.create"),
        "github": ("push", "pull_request.opened", "pull_request.closed", "issues.opened"),
        "slack": ("message", "reaction_added", "app_mention"),
    }
    for k in range(n):
        source = rng.choice(("linear", "github", "github", "slack"))
        yield Event(
            source,
            f"{seed}-{org}-{k}",
            rng.choice(kinds[source]),
            now - dt.timedelta(seconds=days * 86_400 * rng.random()),
            {"n": k, "repo": rng.choice(WORDS)},
            actor=f"u{rng.randrange(50)}",
        )


def _events(caller: Caller, n: int, days: int, now: dt.datetime, seed: int) -> Iterator[Event]:
    return events_for(caller.organization_id, n, days, now, seed)


__all__ = ["Generated", "events_for", "generate"]
