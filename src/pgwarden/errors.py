"""Exceptions raised by pgwarden.

Every failure kind has its own class and a stable ``code`` (kept when messages are
reworded), so scripts can branch on ``err.code`` and the CLI can print it next to the
message. Errors that happened while running SQL carry the ``statement``.
"""

from __future__ import annotations

__all__ = [
    "AlertDeliveryError",
    "ApplyError",
    "AuditError",
    "BackupError",
    "BackupVerifyFailed",
    "ChecksViolated",
    "ConfigError",
    "DatabaseUnavailable",
    "FeatureDependencyError",
    "FeatureNotApplicable",
    "ForeignKeyError",
    "GraphError",
    "HierarchyError",
    "LintError",
    "LockNotGranted",
    "MaintenanceBusy",
    "MaintenanceError",
    "PgwardenError",
    "RestoreRefused",
    "RolesError",
    "SearchError",
    "ServeError",
    "ServerError",
    "SoftDeleteError",
    "SpecError",
    "UnknownTable",
]


class PgwardenError(Exception):
    """Base class of every error pgwarden raises on purpose."""

    code = "pgwarden"

    def __init__(self, message: str, *, hint: str | None = None, statement: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.statement = statement

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ConfigError(PgwardenError):
    """The configuration file or environment cannot be used (missing file, bad TOML, bad URL)."""

    code = "config"


class SpecError(ConfigError):
    """A declaration in ``pgwarden.toml`` is invalid.

    ``file``, ``table`` and ``key`` locate it; ``suggestion`` is the closest valid key when
    the error looks like a typo.
    """

    code = "spec"

    def __init__(
        self,
        message: str,
        *,
        file: str,
        table: str | None = None,
        key: str | None = None,
        line: int | None = None,
        suggestion: str | None = None,
    ):
        where = file + (f":{line}" if line else "")
        if table:
            where += f": [tables.{_quote(table)}]"
        if key:
            where += f" {key}" if table else f": {key}"
        hint = f"did you mean {suggestion!r}?" if suggestion else None
        super().__init__(f"{where}: {message}", hint=hint)
        self.file = file
        self.table = table
        self.key = key
        self.line = line
        self.suggestion = suggestion


class UnknownTable(SpecError):
    """The file declares a table the database does not have."""

    code = "unknown-table"


class RolesError(SpecError):
    """A ``[roles]`` declaration cannot be met as the database is (a role with the wrong
    attributes, an unknown schema, an unset password variable); nothing was changed."""

    code = "roles"


class FeatureNotApplicable(PgwardenError):
    """A declared feature cannot be built on a table as it is; the message says why."""

    code = "not-applicable"

    def __init__(self, table: str, feature: str, reason: str):
        super().__init__(f"{table}: {feature} cannot apply: {reason}")
        self.table = table
        self.feature = feature
        self.reason = reason


class FeatureDependencyError(ConfigError):
    """A feature is declared without a feature it requires (``versioning`` without
    ``audit``), or the installed features require each other in a cycle or require one that
    is not installed. Carries the location in the file when there is one."""

    code = "feature-dependency"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        table: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ):
        where = f"{file}:{line}: " if file and line else f"{file}: " if file else ""
        super().__init__(where + message)
        self.file = file
        self.table = table
        self.key = key
        self.line = line


class DatabaseUnavailable(PgwardenError):
    """No connection could be made (the URL shown never includes the password)."""

    code = "db-unavailable"


class LintError(PgwardenError):
    """Migration SQL could not be linted (squawk missing or failing, a file or an Alembic
    project that cannot be read). Findings are not errors: they are the lint's result."""

    code = "lint"


class LockNotGranted(PgwardenError):
    """A lock was not granted within ``lock_timeout``, after every retry."""

    code = "lock-timeout"


class ApplyError(PgwardenError):
    """A statement of the plan failed; the transaction was rolled back."""

    code = "apply"


class AuditError(PgwardenError):
    """A history, time-travel or revert request that cannot be met, or the audit follower's
    replication stream could not be opened or was lost (the message says why)."""

    code = "audit"


class ChecksViolated(PgwardenError):
    """Existing rows violate a declared check that is to be validated (or its expression
    cannot be evaluated): the plan is refused and nothing changes. ``violations`` holds each
    check's count and example rows (``Violation.to_json()``)."""

    code = "check-violated"

    def __init__(self, message: str, *, violations: list[object], hint: str | None = None):
        super().__init__(message, hint=hint)
        self.violations = violations


class ForeignKeyError(PgwardenError):
    """A foreign key could not be converted (not found, or not ON DELETE CASCADE)."""

    code = "foreign-key"


class SoftDeleteError(PgwardenError):
    """A restore or hard delete could not be done (no such row, not declared, or a rule of
    the foreign keys refused it); nothing was changed."""

    code = "soft-delete"


class SearchError(PgwardenError):
    """A search could not be run (the table does not declare ``search``, bad limits)."""

    code = "search"


class HierarchyError(PgwardenError):
    """A tree change or query refused: it would close a cycle, pass ``max_depth``, or the
    table does not declare ``hierarchy``; nothing was changed."""

    code = "hierarchy"


class GraphError(PgwardenError):
    """A graph change or query refused: a self loop, a cycle in an acyclic graph, a duplicate
    edge, or the table does not declare ``graph``; nothing was changed."""

    code = "graph"


class MaintenanceBusy(PgwardenError):
    """Another process is running maintenance on this database (one runner at a time)."""

    code = "maintenance-busy"


class MaintenanceError(PgwardenError):
    """A maintenance job (purge, archive, retention, partitions) failed; what it committed
    in earlier batches stays, the failed batch was rolled back."""

    code = "maintenance"


class ServerError(PgwardenError):
    """The embedded PostgreSQL server could not be started, stopped or inspected."""

    code = "server"


class BackupError(PgwardenError):
    """A backup, WAL stream, restore or prune could not be done; the repository's catalog is
    unchanged (a half-written backup never enters it)."""

    code = "backup"


class RestoreRefused(BackupError):
    """A restore was refused before anything was written: the target is not empty, the point
    is outside the recoverable window (the message gives the window) or the WAL has a gap."""

    code = "restore-refused"


class BackupVerifyFailed(BackupError):
    """A verification drill found a problem; the message names the backup and the file,
    WAL segment or check that failed."""

    code = "backup-verify"


def _quote(name: str) -> str:
    return f'"{name}"'


class ServeError(PgwardenError):
    """``pgwarden serve`` cannot start as configured (token variable unset, a public address
    without a token, bad ``[serve]`` values)."""

    code = "serve"


class AlertDeliveryError(PgwardenError):
    """The alert webhook did not accept the alerts; they are sent again on the next run."""

    code = "alert-delivery"
