"""The check engine: a registry of checks, a context they share, and ``run_checks``."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pgwarden.errors import ConfigError
from pgwarden.ops.monitor._config import MonitorSection
from pgwarden.ops.monitor._model import CheckInfo, Finding, Notice, Report
from pgwarden.spec import Spec

Row = dict[str, Any]


class CannotCheck(Exception):
    """Raised by a check that cannot see what it needs; becomes a :class:`Notice`."""


@dataclass
class Ctx:
    """What a check may read: an autocommit connection, the options, cached server facts."""

    conn: psycopg.Connection[Any]
    spec: Spec
    opts: MonitorSection
    cache: dict[str, Any] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)

    def note(self, check: str, reason: str) -> None:
        """Say that part of a check could not be judged (the rest still reports)."""
        self.notices.append(Notice(check, reason))

    def rows(self, query: str, params: Any = None) -> list[Row]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchall()

    def value(self, query: str, params: Any = None) -> Any:
        row = self.conn.execute(query, params).fetchone()
        return None if row is None else row[0]

    @cached_property
    def major(self) -> int:
        return int(self.value("select current_setting('server_version_num')::int")) // 10000

    def setting(self, name: str) -> str:
        return str(self.value("select current_setting(%s)", (name,)))

    @cached_property
    def superuser(self) -> bool:
        return bool(self.value("select rolsuper from pg_roles where rolname = current_user"))

    @cached_property
    def monitor_role(self) -> bool:
        """Superuser or member of ``pg_monitor`` (sees every session's query, all stats)."""
        return (
            bool(self.value("select pg_has_role(current_user, 'pg_monitor', 'usage')"))
            or self.superuser
        )

    @cached_property
    def statements_version(self) -> tuple[int, int] | None:
        """``pg_stat_statements``'s installed version in this database (None: not usable)."""
        version = self.value(
            "select extversion from pg_extension e join pg_namespace n "
            "on n.oid = e.extnamespace where extname = 'pg_stat_statements'"
        )
        if version is None:
            return None
        major, _, minor = str(version).partition(".")
        return int(major), int(minor or 0)

    def statements_schema(self) -> str:
        return str(
            self.value(
                "select n.nspname from pg_extension e join pg_namespace n "
                "on n.oid = e.extnamespace where extname = 'pg_stat_statements'"
            )
        )

    def need_statements(self) -> None:
        """Raise :class:`CannotCheck` unless ``pg_stat_statements`` can be read here."""
        if "statements_ok" in self.cache:
            reason = self.cache["statements_ok"]
        else:
            reason = statements_unavailable(self)
            self.cache["statements_ok"] = reason
        if reason:
            raise CannotCheck(reason)


def statements_unavailable(ctx: Ctx) -> str | None:
    """Why ``pg_stat_statements`` cannot be read, or None when it can."""
    loaded = "pg_stat_statements" in ctx.setting("shared_preload_libraries")
    if not loaded:
        return "pg_stat_statements is not in shared_preload_libraries"
    if ctx.statements_version is None:
        return "extension pg_stat_statements is not created in this database"
    return None


CheckFn = Callable[[Ctx], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    info: CheckInfo
    run: CheckFn


CHECKS: dict[str, Check] = {}
"""Every check by id, in registration (report) order."""


def check(
    id: str, title: str, reads: str, threshold: str = "", fixable: bool = False
) -> Callable[[CheckFn], CheckFn]:
    """Register a check; its group is the id's first part (``index.duplicate`` -> index)."""

    def register(fn: CheckFn) -> CheckFn:
        group = id.split(".", 1)[0]
        CHECKS[id] = Check(CheckInfo(id, group, title, reads, threshold, fixable), fn)
        return fn

    return register


def select(wanted: Collection[str] | None) -> list[Check]:
    """The checks named by id, group or shell pattern in ``wanted`` (all when None)."""
    import fnmatch

    from pgwarden.ops.monitor import _checks  # noqa: F401  (registers the checks)

    if not wanted:
        return list(CHECKS.values())
    chosen: list[Check] = []
    for name in wanted:
        hits = [
            c
            for c in CHECKS.values()
            if c.info.id == name or c.info.group == name or fnmatch.fnmatchcase(c.info.id, name)
        ]
        if not hits:
            from difflib import get_close_matches

            close = get_close_matches(name, list(CHECKS), n=1)
            raise ConfigError(
                f"unknown check {name!r}",
                hint=f"did you mean {close[0]!r}?" if close else "pgwarden doctor --list",
            )
        chosen.extend(c for c in hits if c not in chosen)
    return chosen


def _run(ctx: Ctx, chosen: list[Check]) -> tuple[list[Finding], list[Notice]]:
    findings: list[Finding] = []
    notices: list[Notice] = []
    for item in chosen:
        try:
            findings.extend(item.run(ctx))
        except CannotCheck as exc:
            notices.append(Notice(item.info.id, str(exc)))
        except psycopg.errors.InsufficientPrivilege as exc:
            notices.append(
                Notice(item.info.id, f"cannot read what it needs: {exc.diag.message_primary}")
            )
        except psycopg.errors.QueryCanceled:
            notices.append(Notice(item.info.id, "did not finish within 30 s (statement_timeout)"))
    notices.extend(ctx.notices)
    return findings, notices


def run_checks(
    conn: psycopg.Connection[Any],
    spec: Spec,
    opts: MonitorSection,
    wanted: Collection[str] | None = None,
    *,
    today: dt.date | None = None,
) -> Report:
    """Run the chosen checks; findings worst first; silenced and unavailable apart."""
    started = time.perf_counter()
    chosen = select(wanted)
    ctx = Ctx(conn, spec, opts)
    # A check must never hang the doctor (a lock queue, a huge catalog): bound each query,
    # and give the caller's connection its own setting back afterwards.
    row = conn.execute("select current_setting('statement_timeout')").fetchone()
    saved = str(row[0]) if row else "0"
    conn.execute("select set_config('statement_timeout', '30s', false)")
    try:
        findings, notices = _run(ctx, chosen)
    finally:
        conn.execute("select set_config('statement_timeout', %s, false)", (saved,))
    day = today or dt.date.today()
    shown: list[Finding] = []
    silenced: list[Finding] = []
    for finding in findings:
        ignored = any(i.matches(finding.check, finding.object, day) for i in opts.ignore)
        (silenced if ignored else shown).append(finding)
    shown.sort(key=lambda f: (-f.severity.rank, f.check, f.object))
    return Report(
        findings=tuple(shown),
        notices=tuple(notices),
        silenced=tuple(silenced),
        checks=tuple(c.info.id for c in chosen),
        seconds=time.perf_counter() - started,
    )
