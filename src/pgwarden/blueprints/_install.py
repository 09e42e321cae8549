"""The steps every blueprint's ``install`` ends with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import Any

from pgwarden._names import QualifiedName
from pgwarden.blueprints import _roles
from pgwarden.spec import Spec
from pgwarden.warden import Warden

PARTITION_JOBS = ("partition-premake", "partition-rescue")


def make_partitions(
    warden: Warden, only: Collection[QualifiedName], now: dt.datetime | None = None
) -> None:
    """The partitions of ``now`` (default: the present) and those made ahead of it; rows
    waiting in a default partition moved into theirs."""
    warden.maintain(only=only, names=PARTITION_JOBS, now=now)


def settle(warden: Warden, only: Collection[QualifiedName], rounds: int = 3) -> None:
    """Apply until the plan is empty: partitions made by maintenance get their per-partition
    objects (audit's TRUNCATE trigger, tenancy's policies) from an apply."""
    for _ in range(rounds):
        if not warden.plan(only=only).changes:
            break
        warden.apply(only=only)


def migrated(
    url: str,
    spec: Spec,
    schema: str,
    upgrade: Callable[..., None],
    say: Callable[[str], None],
) -> Warden:
    """The blueprint's migrations run (``upgrade(url, role=...)``, as the declared owner when
    there is one), the app role's password made sure of; a :class:`Warden` on ``url``."""
    say("migrations")
    upgrade(url, role=_roles.migration_role(url, schema, spec))
    _roles.ensure_app_password(spec)
    return Warden(url, spec=spec)


def applied(
    warden: Warden,
    only: Collection[QualifiedName],
    now: dt.datetime | None,
    say: Callable[[str], None],
) -> Warden:
    """The declaration applied to ``only``, the partitions of ``now`` made, applied again
    until the plan is empty."""
    say("apply")
    warden.apply(only=only)
    say("partitions")
    make_partitions(warden, only, now)
    settle(warden, only)
    return warden


def without_views(spec: Spec) -> dict[str, Any]:
    """``spec``'s sections but its materialized views (a teardown removes them too)."""
    return {k: v for k, v in spec.sections.items() if k != "materialized_views"}
