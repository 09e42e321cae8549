"""Connections, pool and the transaction-scoped session context."""

from pgwarden.db._connect import APPLICATION_NAME, connect, redact_url
from pgwarden.db._session import (
    RETRYABLE,
    SETTINGS,
    Context,
    Session,
    open_session,
    run_with_retry,
)

__all__ = [
    "APPLICATION_NAME",
    "RETRYABLE",
    "SETTINGS",
    "Context",
    "Session",
    "connect",
    "open_session",
    "redact_url",
    "run_with_retry",
]
