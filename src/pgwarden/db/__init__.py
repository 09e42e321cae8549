"""Connections, pool and the transaction-scoped session context."""

from pgwarden.db._connect import APPLICATION_NAME, connect, redact_url
from pgwarden.db._replicas import Replicas, ReplicaState
from pgwarden.db._routing import open_read_session, open_tracked_session, run_read
from pgwarden.db._session import (
    RETRYABLE,
    SETTINGS,
    AsyncSession,
    Context,
    Session,
    context_statement,
    open_async_session,
    open_session,
    run_with_retry,
    set_tenant,
)
from pgwarden.db._signing import (
    NONCE_SQL,
    TENANT_KEY_ENV,
    TenantBinding,
    read_tenant_key,
    tenant_key_from_env,
    tenant_mac,
)
from pgwarden.db._statement import run_statement

__all__ = [
    "APPLICATION_NAME",
    "NONCE_SQL",
    "RETRYABLE",
    "SETTINGS",
    "TENANT_KEY_ENV",
    "AsyncSession",
    "Context",
    "ReplicaState",
    "Replicas",
    "Session",
    "TenantBinding",
    "connect",
    "context_statement",
    "open_async_session",
    "open_read_session",
    "open_session",
    "open_tracked_session",
    "read_tenant_key",
    "redact_url",
    "run_read",
    "run_statement",
    "run_with_retry",
    "set_tenant",
    "tenant_key_from_env",
    "tenant_mac",
]
