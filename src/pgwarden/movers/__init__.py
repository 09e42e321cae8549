"""Moving rows in batches, crash-safe: shared machinery any feature may use.

Archiving rows, restoring them, moving old audit events to the archive store and handing a
partition's rows over all move rows the same way: one page range of one table per
transaction, ``DELETE ... RETURNING`` feeding an ``INSERT``, so a process killed at any moment
leaves each row where it was or where it went (see ``_batches``).
"""

from pgwarden.movers._batches import (
    ACTOR,
    EVERY_PAGE,
    Settings,
    Target,
    in_transaction,
    move_statement,
    run_batches,
)
from pgwarden.movers._leaves import Leaf, leaves, range_upper, relkind

__all__ = [
    "ACTOR",
    "EVERY_PAGE",
    "Leaf",
    "Settings",
    "Target",
    "in_transaction",
    "leaves",
    "move_statement",
    "range_upper",
    "relkind",
    "run_batches",
]
