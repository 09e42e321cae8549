"""The checks, one module per group; importing this package registers them all."""

from pgwarden.ops.monitor._checks import (  # noqa: F401  (they register checks)
    advice,
    config,
    indexes,
    pgwarden,
    queries,
    security,
    server,
    sessions,
    tables,
    transport,
)
