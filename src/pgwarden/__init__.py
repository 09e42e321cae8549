"""pgwarden: declare what your PostgreSQL data needs in one file; pgwarden builds it inside the
database, keeps it healthy, and proves it.

The public Python surface is small: :class:`Warden`, the values it returns (:class:`Version`,
:class:`Event`) and the exceptions in :mod:`pgwarden.errors`. Everything else is reached
through them or the ``pgwarden`` CLI.
"""

__version__ = "0.1.0"

from pgwarden.errors import (
    ApplyError,
    AuditError,
    ChecksViolated,
    ConfigError,
    DatabaseUnavailable,
    FeatureNotApplicable,
    GraphError,
    HierarchyError,
    LockNotGranted,
    MaintenanceBusy,
    MaintenanceError,
    PgwardenError,
    SearchError,
    ServerError,
    SoftDeleteError,
    SpecError,
    UnknownTable,
)
from pgwarden.features.audit._runtime import Event, Version
from pgwarden.features.soft_delete._runtime import Restored
from pgwarden.warden import Warden

__all__ = [
    "ApplyError",
    "AuditError",
    "ChecksViolated",
    "ConfigError",
    "DatabaseUnavailable",
    "Event",
    "FeatureNotApplicable",
    "GraphError",
    "HierarchyError",
    "LockNotGranted",
    "MaintenanceBusy",
    "MaintenanceError",
    "PgwardenError",
    "Restored",
    "SearchError",
    "ServerError",
    "SoftDeleteError",
    "SpecError",
    "UnknownTable",
    "Version",
    "Warden",
    "__version__",
]
