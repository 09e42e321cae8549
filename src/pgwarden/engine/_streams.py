"""Version streams: the ``warden`` schema's state, migrated per owner.

The engine's stream (``engine``) holds the ledger. A feature that keeps state of its own
(tables, sequences, rows) declares a :class:`Stream`: its ``migrations/NNNN_name.sql`` files,
applied in order and recorded per stream in ``warden.migrations``, hold state only. Its SQL
functions and views live in ``functions/*.sql``, each defined once, and are planned as ledger
objects (kinds ``function`` and ``view``): a changed text changes the object's definition hash,
and apply replaces it (the "replaceable objects" pattern), with no migration restating it.

A database built before streams existed has one stream of versions 1-24 (``legacy``): the
engine relabels it, and a stream's migration whose first line says ``-- baseline: legacy N``
counts as applied there when that stream reached ``N`` (its work is already in the database).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.engine._objects import KINDS, DesiredObject, ObjectRef
from pgwarden.errors import PgwardenError

ENGINE = "engine"
LEGACY = "legacy"
LEGACY_LAST = 24
"""The last version of the single stream pgwarden had before streams (edff86b)."""

_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_BASELINE = re.compile(r"^-- baseline: legacy (\d+)\s*$")
_OBJECT = re.compile(r"^-- (function|view) ([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)(?:\((.*)\))?\s*$")


@dataclass(frozen=True)
class Migration:
    stream: str
    version: int
    name: str
    body: str
    baseline_of: int | None = None
    """``-- baseline: legacy N``: already applied on a database whose legacy stream reached N."""


@dataclass(frozen=True)
class Stream:
    """What one owner keeps in the ``warden`` schema.

    ``package`` holds ``migrations/NNNN_name.sql`` (state: tables, data moves; never
    restated) and ``functions/*.sql`` (one function or view per file, whose first line names
    it: ``-- function warden.as_of(anyelement, timestamp with time zone)`` with the argument
    types as ``regprocedure`` prints them, or ``-- view warden.events_all``). ``after``:
    streams whose migrations must run before this one's.
    """

    name: str
    package: str
    after: tuple[str, ...] = field(default=())

    def _dir(self, name: str) -> Traversable | None:
        found = resources.files(self.package).joinpath(name)
        return found if found.is_dir() else None

    def migrations(self) -> list[Migration]:
        """This stream's migrations, in order."""
        folder = self._dir("migrations")
        found = []
        for entry in folder.iterdir() if folder else ():
            match = _MIGRATION_FILE.match(entry.name)
            if match:
                body = entry.read_text()
                base = _BASELINE.match(body.split("\n", 1)[0])
                found.append(
                    Migration(
                        self.name,
                        int(match.group(1)),
                        match.group(2),
                        body,
                        int(base.group(1)) if base else None,
                    )
                )
        return sorted(found, key=lambda m: m.version)

    def objects(self) -> list[DesiredObject]:
        """This stream's functions and views, one per ``functions/*.sql`` file."""
        folder = self._dir("functions")
        found = []
        for entry in sorted(folder.iterdir(), key=lambda e: e.name) if folder else ():
            if entry.name.endswith(".sql"):
                found.append(self._object(entry.name, entry.read_text()))
        return found

    def _object(self, filename: str, text: str) -> DesiredObject:
        match = _OBJECT.match(text.split("\n", 1)[0])
        if match is None:
            raise PgwardenError(
                f"{self.package}/functions/{filename}: its first line must name the object "
                "(-- function schema.name(argument types) or -- view schema.name)"
            )
        kind, schema, name, args = match.groups()
        ref = ObjectRef(kind, schema, name, args=args or "")
        target = sql.Identifier(schema, name)
        if kind == "function":
            drop = sql.SQL("DROP FUNCTION IF EXISTS {}({})").format(target, sql.SQL(args or ""))
        else:
            drop = sql.SQL("DROP VIEW IF EXISTS {}").format(target)
        # The files are ours, shipped in the package: no user input in them. A SQL function's
        # body is checked when it is created; the functions it calls may come later in the
        # same apply (they are created in name order), so the check waits for the first call.
        create = sql.SQL(
            "SET LOCAL check_function_bodies = off;\n{}\nSET LOCAL check_function_bodies = on"
        ).format(sql.SQL(text.strip()))
        return DesiredObject(
            ref=ref,
            feature=self.name,
            table=None,
            create=create,
            drop=drop,
            description=f"{kind} {schema}.{name}" + (f"({args})" if kind == "function" else ""),
            adopt=True,
            # Views over the state first: a function may return a view's row type.
            rank=KINDS["function"].rank - 1 if kind == "view" else None,
        )


def engine_stream() -> Stream:
    return Stream(ENGINE, "pgwarden.engine")


def versions(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """The highest migration applied, by stream (empty: no ``warden`` schema)."""
    row = conn.execute("select to_regclass('warden.migrations') is not null").fetchone()
    if not row or not row[0]:
        return {}
    row = conn.execute(
        """select exists (select 1 from pg_attribute where attname = 'stream'
                          and attrelid = 'warden.migrations'::regclass)"""
    ).fetchone()
    if row and row[0]:
        rows = conn.execute(
            "select stream, max(version) from warden.migrations group by stream"
        ).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}
    # One stream, from before streams: its version 1 is the engine's ledger.
    row = conn.execute("select coalesce(max(version), 0) from warden.migrations").fetchone()
    last = int(row[0]) if row else 0
    found = {ENGINE: min(last, 1)} if last else {}
    if last > 1:
        found[LEGACY] = last
    return found


def pending(
    conn: psycopg.Connection[Any], streams: list[Stream], current: dict[str, int] | None = None
) -> list[Migration]:
    """The migrations of ``streams`` not applied yet, streams in order (the engine's first)."""
    current = versions(conn) if current is None else current
    legacy = current.get(LEGACY)
    if legacy is not None and legacy < LEGACY_LAST:
        raise PgwardenError(
            f"this database's warden schema is at version {legacy}, made by a pgwarden older "
            f"than the one whose schema this pgwarden upgrades (version {LEGACY_LAST})",
            hint=f"apply once with a pgwarden whose store version is {LEGACY_LAST} "
            "(git commit edff86b), then with this one",
        )
    todo = []
    for stream in ordered(streams):
        todo += [m for m in stream.migrations() if m.version > current.get(stream.name, 0)]
    return todo


def ordered(streams: list[Stream]) -> list[Stream]:
    """The engine's stream first, then each stream after those it names in ``after``."""
    by_name = {s.name: s for s in streams}
    done: list[Stream] = []
    seen: set[str] = set()

    def visit(stream: Stream) -> None:
        if stream.name in seen:
            return
        seen.add(stream.name)
        for name in stream.after:
            if name in by_name:
                visit(by_name[name])
        done.append(stream)

    for stream in sorted(streams, key=lambda s: (s.name != ENGINE, s.name)):
        visit(stream)
    return done


def migrate(conn: psycopg.Connection[Any], streams: list[Stream]) -> list[Migration]:
    """Bring ``streams`` up to date; call inside a transaction (under the apply lock)."""
    current = versions(conn)
    todo = pending(conn, streams, current)
    if not todo:
        return []
    conn.execute("create schema if not exists warden")
    conn.execute(
        """create table if not exists warden.migrations (
               stream text not null default 'engine', version int not null,
               name text not null, applied_at timestamptz not null default now(),
               primary key (stream, version))"""
    )
    legacy = current.get(LEGACY, 0)
    for migration in todo:
        if migration.baseline_of is None or legacy < migration.baseline_of:
            # Migration files are ours, shipped in the package; they hold no user input.
            conn.execute(migration.body.encode())
        conn.execute(
            "insert into warden.migrations (stream, version, name) values (%s, %s, %s)",
            (migration.stream, migration.version, migration.name),
        )
    return todo
