"""One statement in a transaction of its own, with its context, in one message to the server.

``run_statement`` is the short path of a request that writes one statement (a new order): the
context (``set_config(..., true)``) and the statement go as one simple-protocol Query message,
which PostgreSQL runs as one implicit transaction, committed at its end or rolled back whole
on an error. The statement itself is a prepared statement of the connection (``PREPARE``
once per connection, then ``EXECUTE name(literals)``): the server plans it once, as psycopg's
own prepared statements would, and the client binds the parameters as literals (psycopg's
quoting). Measured on a new order: about half the client CPU and three quarters of the
server CPU of the same statement sent through a psycopg pipeline (context, statement,
``COMMIT``).

The pipelined path remains for what the message cannot carry: a tenant signed with the key
(whether the MAC sent with the context holds is known only from its answer: one round trip
before the statement's), a connection with its own
isolation level, read-only or deferrable setting (its ``BEGIN`` carries them), and a
statement that cannot be prepared (a parameter whose type PostgreSQL cannot infer, a
placeholder psycopg would refuse).
"""

from __future__ import annotations

import hashlib
import re
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from pgwarden.db._session import Context, _set_context
from pgwarden.db._signing import SET_CONTEXT

Query = str | sql.SQL | sql.Composed
Params = Sequence[Any] | Mapping[str, Any] | None

# psycopg's placeholders: %s %b %t, %(name)s..., %% for a percent sign.
_PLACEHOLDER = re.compile(r"%(?:\(([^)]+)\))?(.)", re.DOTALL)

_lock = threading.Lock()
_prepared: weakref.WeakKeyDictionary[psycopg.Connection[Any], set[str]] = (
    weakref.WeakKeyDictionary()
)
"""The statements prepared on each connection (a connection the pool replaces is forgotten)."""
_unpreparable: set[str] = set()
"""Statements PREPARE refused: they take the pipelined path."""


def run_statement(
    pool: ConnectionPool[Any],
    context: Context,
    query: Query,
    params: Params = None,
    *,
    key: bytes | None = None,
) -> list[dict[str, Any]]:
    """Run one statement in a transaction of its own with ``context`` set, and commit, in one
    message and one round trip: the context and ``EXECUTE`` of the statement prepared on the
    connection (see the module's docstring; twice with a tenant signed with ``key``, three
    times when its MAC cannot go with the context: :func:`pgwarden.db.open_session`).
    Returns the statement's rows as dicts (none for a statement without rows). An error
    rolls the transaction back and is raised; nothing is retried (a single statement at
    READ COMMITTED is not refused for serialization)."""
    with pool.connection() as conn:
        if not (context.tenant and key) and _plain(conn):
            found = _one_message(conn, context, query, params)
            if found is not None:
                return found
        return _pipelined(conn, context, query, params, key)


def _plain(conn: psycopg.Connection[Any]) -> bool:
    """Whether the connection's transactions are the server's defaults (its ``BEGIN`` says
    nothing the message would lose)."""
    return conn.isolation_level is None and conn.read_only is None and conn.deferrable is None


def _pipelined(
    conn: psycopg.Connection[Any],
    context: Context,
    query: Query,
    params: Params,
    key: bytes | None,
) -> list[dict[str, Any]]:
    """The context, the statement and ``COMMIT`` through one psycopg pipeline."""
    signed = bool(context.tenant and key)
    if signed:
        _set_context(conn, context, key)  # waits: whether its MAC holds
    with conn.pipeline():
        if not signed:
            conn.execute(SET_CONTEXT, context.values())
        cursor = conn.cursor(row_factory=dict_row)
        cursor.execute(query, params)
        conn.commit()
        return cursor.fetchall() if cursor.description else []


@dataclass(frozen=True)
class _Form:
    """A statement as prepared: its name, its text with ``$n``, the names of its parameters
    in that order (None: positional, ``count`` of them), and the message that runs it."""

    name: str
    statement: str
    names: tuple[str, ...] | None
    count: int
    message: bytes

    def args(self, params: Params) -> list[Any] | None:
        """The arguments in ``$n`` order, or None when ``params`` do not fit the statement."""
        if self.names is not None:
            if not isinstance(params, Mapping) or not all(n in params for n in self.names):
                return None
            return [params[n] for n in self.names]
        if params is None:
            return [] if self.count == 0 else None
        if isinstance(params, Mapping) or len(params) != self.count:
            return None
        return list(params)


_forms: dict[tuple[object, bool | None], tuple[Query, _Form | None]] = {}
"""Forms by statement (by text, or by the identity of a composed statement, which the entry
keeps alive) and whether its parameters are named (None: it has none)."""


def _form(conn: psycopg.Connection[Any], query: Query, named: bool | None) -> _Form | None:
    key = (query if isinstance(query, str) else id(query), named)
    found = _forms.get(key)
    if found is not None and found[0] is query:
        return found[1]
    text = query if isinstance(query, str) else query.as_string(conn)
    form = _converted(text, named)
    with _lock:
        if len(_forms) > 1024:  # statements built per call: keep the cache bounded
            _forms.clear()
        _forms[key] = (query, form)
    return form


def _converted(text: str, named: bool | None) -> _Form | None:
    """The form of ``text``: psycopg's placeholders as ``$n`` (``named``: ``%(name)s``,
    else ``%s``; None: no parameters, every ``%`` as written), or None when psycopg would
    refuse the placeholders (its own path then says why)."""
    numbers: dict[str, int] = {}
    count = 0
    failed = False

    def replace(match: re.Match[str]) -> str:
        nonlocal count, failed
        name, kind = match.group(1), match.group(2)
        if kind == "%" and name is None:
            return "%"
        if kind not in "sbt" or (name is not None) != named:
            failed = True
            return ""
        if name is None:
            count += 1
            return f"${count}"
        if name not in numbers:
            numbers[name] = len(numbers) + 1
        return f"${numbers[name]}"

    statement = text if named is None else _PLACEHOLDER.sub(replace, text)
    if failed:
        return None
    name = "pgwarden_rs_" + hashlib.sha256(statement.encode()).hexdigest()[:24]
    n = len(numbers) if named else count
    arguments = f"({', '.join(['%s'] * n)})" if n else ""
    return _Form(
        name=name,
        statement=statement,
        names=tuple(numbers) if named else None,
        count=n,
        message=f"{SET_CONTEXT}; EXECUTE {name}{arguments}".encode(),
    )


def _one_message(
    conn: psycopg.Connection[Any], context: Context, query: Query, params: Params
) -> list[dict[str, Any]] | None:
    """The context and ``EXECUTE`` in one Query message (one implicit transaction), the
    parameters bound by psycopg as literals; None when the statement cannot be prepared."""
    form = _form(conn, query, None if params is None else isinstance(params, Mapping))
    if form is None or form.name in _unpreparable:
        return None
    args = form.args(params)
    if args is None:
        return None
    autocommit = conn.autocommit
    conn.autocommit = True  # no BEGIN of psycopg's: the message is the transaction
    try:
        for attempt in range(2):
            if not _prepare(conn, form.name, form.statement):
                return None
            cursor = psycopg.ClientCursor(conn, row_factory=dict_row)
            try:
                cursor.execute(form.message, [*context.values(), *args])
            except pg_errors.InvalidSqlStatementName:
                # Deallocated behind our back (DISCARD ALL, a pooler's other server): the
                # message rolled back whole; prepare it again, once.
                with _lock:
                    _prepared.get(conn, set()).discard(form.name)
                if attempt:
                    return None
                continue
            cursor.nextset()
            return cursor.fetchall() if cursor.description else []
        return None
    finally:
        conn.autocommit = autocommit


def _prepare(conn: psycopg.Connection[Any], name: str, statement: str) -> bool:
    with _lock:
        if name in _prepared.get(conn, ()):
            return True
    prepare = sql.SQL("PREPARE {} AS ").format(sql.Identifier(name)) + sql.SQL(statement)
    try:
        conn.execute(prepare, prepare=False)
    except pg_errors.DuplicatePreparedStatement:
        pass  # the session has it already (prepared by another pgwarden on it)
    except psycopg.OperationalError:
        raise
    except psycopg.DatabaseError:  # a parameter's type not inferable, a statement not preparable
        with _lock:
            _unpreparable.add(name)
        return False
    with _lock:
        _prepared.setdefault(conn, set()).add(name)
    return True
