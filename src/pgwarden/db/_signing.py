"""The signed tenant: what its MAC binds, the key that makes it, and the statement that sets it.

``warden.tenant()`` trusts ``pgwarden.tenant`` only with a ``pgwarden.tenant_mac`` made with
the database's tenancy key and bound to one transaction of one backend, so a MAC an injected
statement reads is worthless in any other transaction. Two bindings:

- **the transaction's start** (``<pid>:<start us>``): any verifier (SQL or C) checks it, but
  the application learns the start only once ``BEGIN`` ran, so the MAC costs a round trip of
  its own;
- **a sequence** (``<binding>:<sequence>``, extension ``pgwarden_wal``): the backend shows a
  random binding of its own and a floor (once its first verification loaded the library),
  and a sequence above the floor verifies once. The binding is remembered per connection, so from
  then on the MAC goes with ``BEGIN``: one round trip.

Every signed context is sent by :data:`_PROBE`, which also reads what the backend shows; when
the sequence could not be used (a connection's first transactions, a verifier in SQL, another
backend behind a pooler, a floor raised by someone else) a MAC bound to the transaction's
start follows. The verdict is exact either way, never guessed.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, LiteralString

import psycopg
from psycopg import errors as pg_errors

SET_CONTEXT: LiteralString = (
    "select set_config('pgwarden.actor', %s, true), set_config('pgwarden.tenant', %s, true),"
    " set_config('pgwarden.reason', %s, true), set_config('pgwarden.request_id', %s, true)"
)

NONCE_SQL: LiteralString = (
    "pg_backend_pid(), (extract(epoch from transaction_timestamp()) * 1000000)::bigint"
)
"""Two columns for a transaction's first statement: what a signed tenant's MAC binds (the
backend and the transaction's start, which ``warden.tenant()`` reads too). See
:func:`pgwarden.db.context_statement`."""

# The context with a MAC (or ''), and what the backend shows: columns 4 to 8.
_PROBE: LiteralString = (
    SET_CONTEXT + ", set_config('pgwarden.tenant_mac', %s, true),"
    " current_setting('pgwarden_wal.tenant_binding', true),"
    " current_setting('pgwarden_wal.tenant_floor', true), " + NONCE_SQL
)
SET_MAC: LiteralString = "select set_config('pgwarden.tenant_mac', %s, true)"

TENANT_KEY_ENV = "PGWARDEN_TENANT_KEY"
"""Environment variable holding the tenancy key (hex), for applications whose role cannot
read it from the database (``pgwarden tenancy key`` prints it)."""

# The C verifier parses at most 18 digits of a sequence.
_SEQUENCE_LIMIT = 10**18


@dataclass(frozen=True)
class TenantBinding:
    """What a signed tenant's MAC is bound to: one transaction of one backend, by its start
    (``sequence`` None) or by a sequence number above the backend's floor."""

    message: str
    sequence: int | None = None

    @classmethod
    def of_transaction(cls, backend_pid: int, started_us: int) -> TenantBinding:
        return cls(f"{backend_pid}:{started_us}")

    def sign(self, key: bytes, tenant: str) -> str:
        """The ``pgwarden.tenant_mac`` that makes ``tenant`` verify in the bound transaction."""
        mac = _keyed(key).copy()
        mac.update(f"{self.message}:{tenant}".encode())
        return mac.hexdigest() if self.sequence is None else f"s{self.sequence}.{mac.hexdigest()}"


_last_key: tuple[bytes, hmac.HMAC] | None = None


def _keyed(key: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 with ``key`` set up, to copy for each MAC: a MAC per transaction then
    skips the key's two hash blocks and the digest's lookup by name (a signed session's
    client CPU measured 4.7 µs less). Only the last key is kept: an application has one."""
    global _last_key
    found = _last_key
    if found is None or found[0] != key:
        found = _last_key = (key, hmac.new(key, digestmod="sha256"))
    return found[1]


def tenant_mac(key: bytes, backend_pid: int, started_us: int, tenant: str) -> str:
    """The MAC ``warden.tenant()`` expects: HMAC-SHA256 of ``pid:start:tenant``, hex."""
    return TenantBinding.of_transaction(backend_pid, started_us).sign(key, tenant)


def tenant_key_from_env(environ: dict[str, str] | None = None) -> bytes | None:
    """The tenancy key from ``PGWARDEN_TENANT_KEY`` (hex), or None."""
    value = (environ if environ is not None else os.environ).get(TENANT_KEY_ENV)
    return bytes.fromhex(value.strip()) if value else None


def read_tenant_key(conn: psycopg.Connection[Any]) -> bytes | None:
    """The tenancy key from ``warden.secrets``, or None when there is none or this role may
    not read it (an application role never may)."""
    try:
        with conn.transaction():
            row = conn.execute(
                "select value from warden.secrets where name = 'tenancy_key'"
            ).fetchone()
    except (pg_errors.InsufficientPrivilege, pg_errors.UndefinedTable, pg_errors.InvalidSchemaName):
        return None
    return bytes.fromhex(row[0]) if row else None


_lock = threading.Lock()
_last_sequence = 0
_backends: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
"""Per connection: the binding its backend last showed. (Not its floor: every statement that
signs reads the floor afresh, and this process's sequences stay above the floors it made.)"""


def _next_sequence() -> int:
    """Strictly increasing in this process, and near the clock in microseconds (so that
    processes sharing a backend through a pooler rarely fall below each other's floor)."""
    global _last_sequence
    with _lock:
        _last_sequence = max(_last_sequence + 1, time.time_ns() // 1000)
        return _last_sequence


class Signing:
    """One signed context on its way: :attr:`statement` sets it (with a MAC bound to a
    sequence when the connection's backend is known), and :meth:`settle`, given the row the
    statement returned, says which binding holds and which MAC must still be sent."""

    # A plain class: one is made per signed transaction, on its hot path.
    __slots__ = ("attempt", "backend", "conn", "key", "tenant", "values")

    def __init__(
        self,
        conn: Any,
        values: tuple[str, ...],
        tenant: str,
        key: bytes,
        backend: str | None = None,
        attempt: TenantBinding | None = None,
    ):
        self.conn, self.values, self.tenant, self.key = conn, values, tenant, key
        self.backend, self.attempt = backend, attempt

    @classmethod
    def begin(cls, conn: Any, values: tuple[str, ...], tenant: str, key: bytes) -> Signing:
        backend = _backends.get(conn)
        if backend is not None:
            sequence = _next_sequence()
            if sequence < _SEQUENCE_LIMIT:
                attempt = TenantBinding(f"{backend}:{sequence}", sequence)
                return cls(conn, values, tenant, key, backend, attempt)
        return cls(conn, values, tenant, key)

    @property
    def statement(self) -> tuple[LiteralString, tuple[str, ...]]:
        mac = self.attempt.sign(self.key, self.tenant) if self.attempt else ""
        return _PROBE, (*self.values, mac)

    def settle(self, row: Any) -> tuple[TenantBinding, str | None]:
        """The binding this transaction's tenant is signed with, and the MAC still to send
        (None: the one sent holds)."""
        assert row is not None
        backend, floor = row[5], row[6]
        # The binding must name this backend: a session could set a placeholder of that name
        # before the library is loaded, to have MACs bound to another backend's binding.
        if backend is None or floor is None or backend.split(":", 1)[0] != str(row[7]):
            _backends.pop(self.conn, None)
        else:
            if backend != self.backend:
                _backends[self.conn] = backend
            attempt = self.attempt
            if attempt and backend == self.backend and (attempt.sequence or 0) > int(floor):
                return attempt, None
        fallback = TenantBinding.of_transaction(int(row[7]), int(row[8]))
        return fallback, fallback.sign(self.key, self.tenant)
