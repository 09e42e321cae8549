"""The steps every blueprint's ``install`` ends with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from pgwarden._names import QualifiedName
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
