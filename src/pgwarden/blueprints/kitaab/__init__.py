"""Kitaab, the seed's personal accountability app, on pgwarden.

``install(url)`` runs the blueprint's migrations, applies its declaration
(``pgwarden.toml`` beside this file) and creates the current partitions;
:class:`~pgwarden.blueprints.kitaab.services.Kitaab` is the service layer and
:func:`~pgwarden.blueprints.kitaab.api.create_app` the HTTP API. See docs/blueprints/kitaab.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from pgwarden._names import QualifiedName
from pgwarden.spec import Spec, load_spec
from pgwarden.warden import Warden

DECLARATION = Path(__file__).parent / "pgwarden.toml"
SCHEMA = "kitaab"


def declaration() -> Spec:
    """The blueprint's policies (audit, versioning, soft delete, partitions, archive)."""
    return load_spec(DECLARATION)


def tables(spec: Spec | None = None) -> list[QualifiedName]:
    """The tables the declaration covers: what apply may touch for the blueprint."""
    return list((spec or declaration()).tables)


def install(
    url: str,
    *,
    now: dt.datetime | None = None,
    step: Callable[[str], None] | None = None,
) -> Warden:
    """Migrate, apply the declaration (only the blueprint's tables), create the partitions the
    current year needs, and apply again (a partition made by maintenance gets its per-partition
    objects, such as audit's TRUNCATE trigger, from an apply). Returns a :class:`Warden` on
    ``url`` with the blueprint's declaration; the caller closes it. Idempotent."""
    from pgwarden.blueprints.kitaab import _migrate  # alembic: the kitaab extra

    say = step or (lambda _: None)
    say("migrations")
    _migrate.upgrade(url)
    spec = declaration()
    warden = Warden(url, spec=spec)
    only = tables(spec)
    say("apply")
    warden.apply(only=only)
    say("partitions")
    warden.maintain(only=only, names=["partition-premake", "partition-rescue"], now=now)
    for _ in range(3):
        if not warden.plan(only=only).changes:
            break
        warden.apply(only=only)
    return warden


def teardown(url: str) -> None:
    """Remove what pgwarden built on the blueprint's tables, then every migration."""
    spec = declaration()
    empty = Spec.empty()
    warden = Warden(url, spec=empty)
    try:
        warden.apply(only=tables(spec))
    finally:
        warden.close()
    from pgwarden.blueprints.kitaab import _migrate

    _migrate.downgrade(url)


__all__ = ["DECLARATION", "SCHEMA", "declaration", "install", "tables", "teardown"]
