"""The table lock a migration statement takes: what each finding names, so the reader knows
what waits behind it (PostgreSQL's documentation, "Explicit Locking", table-level locks)."""

from __future__ import annotations

from pgwarden.lint._split import Statement

# What each lock blocks, in the words of a reader deciding whether to ship the migration.
BLOCKS = {
    "ACCESS EXCLUSIVE": "blocks reads and writes",
    "EXCLUSIVE": "blocks writes, reads go on",
    "SHARE ROW EXCLUSIVE": "blocks writes",
    "SHARE": "blocks writes",
    "SHARE UPDATE EXCLUSIVE": "reads and writes go on (blocks DDL, VACUUM)",
    "ROW EXCLUSIVE": "row locks only (blocks DDL)",
}


def lock_of(statement: Statement) -> str | None:
    """The strongest table lock ``statement`` takes, or None (no table lock, or unknown)."""
    w = statement.words
    text = " ".join(w)
    if not w:
        return None
    if w[0] == "CREATE":
        if "INDEX" in w[:4]:
            return "SHARE UPDATE EXCLUSIVE" if "CONCURRENTLY" in w[:5] else "SHARE"
        if "TRIGGER" in w[:4]:
            return "SHARE ROW EXCLUSIVE"
        if "TABLE" in w[:4]:
            # A new table locks nothing of anyone's, but a foreign key locks its target.
            return "SHARE ROW EXCLUSIVE" if "REFERENCES" in w else None
        return None
    if w[0] == "DROP":
        if "INDEX" in w[:2] and "CONCURRENTLY" in w[:3]:
            return "SHARE UPDATE EXCLUSIVE"
        return "ACCESS EXCLUSIVE" if w[1:2] and w[1] in ("TABLE", "INDEX", "VIEW") else None
    if w[0] == "ALTER" and "TABLE" in w[:2]:
        if "VALIDATE CONSTRAINT" in text or "ATTACH PARTITION" in text:
            return "SHARE UPDATE EXCLUSIVE"
        if "DETACH PARTITION" in text and "CONCURRENTLY" in w:
            return "SHARE UPDATE EXCLUSIVE"
        if "SET STATISTICS" in text or ("SET (" in text and "FILLFACTOR" in w):
            return "SHARE UPDATE EXCLUSIVE"
        if "FOREIGN KEY" in text or (" REFERENCES " in f" {text} " and "ADD" in w):
            return "SHARE ROW EXCLUSIVE"
        return "ACCESS EXCLUSIVE"
    if w[0] == "ALTER" and "INDEX" in w[:2]:
        return "SHARE UPDATE EXCLUSIVE" if "SET STATISTICS" in text else "ACCESS EXCLUSIVE"
    if w[0] == "REFRESH":
        return "EXCLUSIVE" if "CONCURRENTLY" in w[:4] else "ACCESS EXCLUSIVE"
    if w[0] in ("TRUNCATE", "CLUSTER", "REINDEX") or text.startswith("VACUUM FULL"):
        if w[0] == "REINDEX" and "CONCURRENTLY" in w:
            return "SHARE UPDATE EXCLUSIVE"
        return "ACCESS EXCLUSIVE"
    if w[0] in ("UPDATE", "DELETE", "INSERT", "MERGE"):
        return "ROW EXCLUSIVE"
    if w[0] == "LOCK":
        for mode in sorted(BLOCKS, key=len, reverse=True):
            if f"IN {mode} MODE" in text:
                return mode
        return "ACCESS EXCLUSIVE"
    return None
