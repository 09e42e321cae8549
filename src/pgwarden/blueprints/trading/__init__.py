"""The trading blueprint (seed 004): fast, safe writes on a time-series schema, watched live.

``install(url)`` runs the blueprint's migrations, applies its declaration (``pgwarden.toml``
beside this file), converts the schema's history-destroying ON DELETE CASCADE keys to
RESTRICT and makes the market-data partitions; :class:`~pgwarden.blueprints.trading.services.
Trading` is the service layer and :func:`~pgwarden.blueprints.trading.api.create_app` the HTTP
API. See docs/blueprints/trading.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from pgwarden._names import QualifiedName
from pgwarden.blueprints import _install
from pgwarden.spec import Spec, load_spec
from pgwarden.warden import Warden

DECLARATION = Path(__file__).parent / "pgwarden.toml"
SCHEMA = "trading"


def declaration() -> Spec:
    """The blueprint's policies (audit, versioning, soft delete, partitions, archive)."""
    return load_spec(DECLARATION)


def tables(spec: Spec | None = None) -> list[QualifiedName]:
    """The tables the declaration covers: what apply may touch for the blueprint."""
    return list((spec or declaration()).tables)


def restrict_cascades(warden: Warden) -> list[str]:
    """Convert every ON DELETE CASCADE key of the blueprint's tables that would destroy
    history to RESTRICT, online (``pgwarden foreign-keys restrict``). Returns the keys
    converted, as ``table.constraint`` (none when run again)."""
    ours = set(tables(warden.spec))
    done = []
    for key in warden.soft_delete.cascading_keys():
        if key.table in ours and warden.soft_delete.restrict_foreign_key(str(key.table), key.name):
            done.append(f"{key.table}.{key.name}")
    return done


def install(
    url: str,
    *,
    now: dt.datetime | None = None,
    step: Callable[[str], None] | None = None,
) -> Warden:
    """Migrate, apply the declaration (only the blueprint's tables), convert its CASCADE keys to
    RESTRICT, make the partitions of ``now`` (default: the present) and the days after, and
    apply again so new partitions get their per-partition objects. Returns a :class:`Warden`
    on ``url`` with the blueprint's declaration; the caller closes it. Idempotent."""
    from pgwarden.blueprints.trading import _migrate  # alembic: the trading extra

    say = step or (lambda _: None)
    say("migrations")
    _migrate.upgrade(url)
    spec = declaration()
    warden = Warden(url, spec=spec)
    only = tables(spec)
    say("apply")
    warden.apply(only=only)
    say("foreign keys")
    restrict_cascades(warden)
    say("partitions")
    _install.make_partitions(warden, only, now)
    _install.settle(warden, only)
    return warden


def teardown(url: str) -> None:
    """Remove what pgwarden built on the blueprint's tables, then every migration."""
    spec = declaration()
    warden = Warden(url, spec=Spec.empty())
    try:
        warden.apply(only=tables(spec))
    finally:
        warden.close()
    from pgwarden.blueprints.trading import _migrate

    _migrate.downgrade(url)


__all__ = ["DECLARATION", "SCHEMA", "declaration", "install", "restrict_cascades", "tables",
           "teardown"]  # fmt: skip
