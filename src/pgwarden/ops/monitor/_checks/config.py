"""Configuration that the checks and pgwarden's features need."""

from __future__ import annotations

from collections.abc import Iterator

from pgwarden.ops.monitor._engine import Ctx, check, statements_unavailable
from pgwarden.ops.monitor._model import Finding, Severity


@check(
    "config.pg_stat_statements",
    "pg_stat_statements loaded and created",
    "shared_preload_libraries, pg_extension",
)
def _statements(ctx: Ctx) -> Iterator[Finding]:
    reason = statements_unavailable(ctx)
    if reason:
        yield Finding(
            "config.pg_stat_statements",
            Severity.WARNING,
            "extension pg_stat_statements",
            {},
            "the query checks and query history need pg_stat_statements: " + reason,
        )
