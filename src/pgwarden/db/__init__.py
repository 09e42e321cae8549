"""Connections, pool and the transaction-scoped session context."""

from pgwarden.db._connect import APPLICATION_NAME, connect, redact_url
from pgwarden.db._session import (
    RETRYABLE,
    SETTINGS,
    AsyncSession,
    Context,
    Session,
    open_async_session,
    open_session,
    run_with_retry,
)

__all__ = [
    "APPLICATION_NAME",
    "RETRYABLE",
    "SETTINGS",
    "AsyncSession",
    "Context",
    "Session",
    "connect",
    "open_async_session",
    "open_session",
    "redact_url",
    "run_with_retry",
]
