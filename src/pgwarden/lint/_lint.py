"""squawk's findings with pgwarden's knowledge layered on top."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pgwarden.lint._locks import BLOCKS, lock_of
from pgwarden.lint._split import Statement, split
from pgwarden.lint._squawk import RawFinding, run_squawk

TIMEOUT_RULES = frozenset({"require-lock-timeout", "require-statement-timeout"})

# Rules that do not apply to the statements of pgwarden's own apply: it sets lock_timeout
# (SET LOCAL, retried with backoff), deliberately no statement_timeout (a validation scan
# must finish; waiting is what lock_timeout bounds), and it is re-planned from the catalog
# rather than re-run, so "can't be rerun" does not arise.
_PGWARDEN_APPLIES = TIMEOUT_RULES | {"prefer-robust-stmts"}

_NAME = r'((?:"[^"]+"|[A-Za-z_][\w$]*)(?:\.(?:"[^"]+"|[A-Za-z_][\w$]*))?)'
_CREATED = re.compile(
    r"^\s*CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _NAME, re.I
)
_REFERENCES = re.compile(r"\bREFERENCES\s+" + _NAME, re.I)
_CONCURRENT_INDEX = re.compile(
    r"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _NAME, re.I
)
_TARGET = re.compile(
    r"^\s*(?:ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?|CREATE\s+(?:UNIQUE\s+)?INDEX\s+"
    r"(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?:\S+\s+)?ON\s+(?:ONLY\s+)?)" + _NAME,
    re.I,
)
_DROP_INDEX = re.compile(r"^\s*DROP\s+INDEX\s+CONCURRENTLY\s+IF\s+EXISTS\s+" + _NAME, re.I)


@dataclass(frozen=True)
class Finding:
    """One problem in one statement of migration SQL."""

    source: str
    """The file, Alembic revision or plan change it is in."""
    line: int
    """1-based line of the statement in ``source``."""
    rule: str
    """squawk's rule name, or one of pgwarden's (``origin``)."""
    level: str
    """``warning`` or ``error``."""
    message: str
    help: str | None
    statement: str
    lock: str | None
    """The table lock the statement takes (``SHARE``, ``ACCESS EXCLUSIVE``...), if any."""
    origin: str = "squawk"

    @property
    def lock_text(self) -> str:
        if self.lock is None:
            return "takes no table lock"
        return f"takes {self.lock} ({BLOCKS.get(self.lock, '')})"

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "line": self.line,
            "rule": self.rule,
            "level": self.level,
            "message": self.message,
            "help": self.help,
            "statement": self.statement,
            "lock": self.lock,
            "origin": self.origin,
        }


def _name(raw: str) -> str:
    # Unqualified and unquoted, lower-cased as PostgreSQL folds it: enough to match a
    # CREATE TABLE with a later REFERENCES in the same migration.
    last = raw.split(".")[-1]
    return last[1:-1] if last.startswith('"') else last.lower()


def lint_sql(
    text: str,
    source: str = "<sql>",
    *,
    in_transaction: bool = False,
    by_pgwarden: bool = False,
    lock_timeout_set: bool = False,
    pg_version: str | None = None,
    label: Callable[[Statement], str] | None = None,
) -> list[Finding]:
    """Lint ``text`` (one migration) with squawk, then apply pgwarden's knowledge:

    - statements run by pgwarden's own apply (``by_pgwarden``), or by a runner that sets
      ``lock_timeout`` itself (``lock_timeout_set``, squawk#678), get no timeout finding;
    - CREATE TABLE of a table new in this migration is not flagged for timeouts (it blocks
      nobody, squawk#673), unless it references an existing table (its foreign key locks it),
      and later ALTER TABLE / CREATE INDEX on it get no lock or rewrite finding (it is empty);
    - ``CREATE INDEX CONCURRENTLY`` that a retry could not redo (an interrupted build leaves an
      INVALID index, strong_migrations#233) is flagged unless preceded by ``DROP INDEX
      CONCURRENTLY IF EXISTS`` of the same index;
    - every finding names the table lock its statement takes.
    """
    statements = split(text)
    raw = run_squawk(text, source, in_transaction=in_transaction, pg_version=pg_version)
    created: set[str] = set()
    quiet_timeouts: set[int] = set()
    new_target: set[int] = set()
    dropped: set[str] = set()
    own: list[Finding] = []
    for i, st in enumerate(statements):
        target = _TARGET.match(st.text)
        if target and _name(target.group(1)) in created:
            new_target.add(i)
        made = _CREATED.match(st.text)
        if made:
            targets = {_name(m.group(1)) for m in _REFERENCES.finditer(st.text)}
            if targets <= created | {_name(made.group(1))}:
                quiet_timeouts.add(i)
            created.add(_name(made.group(1)))
        gone = _DROP_INDEX.match(st.text)
        if gone:
            dropped.add(_name(gone.group(1)))
        index = _CONCURRENT_INDEX.match(st.text)
        if index and _name(index.group(1)) not in dropped:
            own.append(
                _finding(
                    st,
                    source,
                    label,
                    rule="concurrent-index-retry",
                    message="an interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index; "
                    "a retry then fails on the name (or IF NOT EXISTS keeps the INVALID one)",
                    help="put `DROP INDEX CONCURRENTLY IF EXISTS <name>` right before it",
                )
            )
    found: list[Finding] = []
    for r in raw:
        index_of = _statement_at(statements, r.line)
        st = statements[index_of] if index_of is not None else Statement("", r.line, r.line)
        if r.rule in TIMEOUT_RULES and (
            by_pgwarden
            or index_of in quiet_timeouts
            or (lock_timeout_set and r.rule == "require-lock-timeout")
        ):
            continue
        if by_pgwarden and r.rule in _PGWARDEN_APPLIES:
            continue
        if index_of in new_target and not r.rule.startswith("prefer-"):
            # A table created earlier in this migration is empty and no one else's yet:
            # no lock, rewrite or scan finding applies to it (type preferences still do).
            continue
        found.append(_from_squawk(r, st, source, label))
    found.extend(own)
    found.sort(key=lambda f: (f.line, f.rule))
    return found


def _statement_at(statements: Sequence[Statement], line: int) -> int | None:
    for i, st in enumerate(statements):
        if st.first_line <= line <= st.last_line:
            return i
    return None


def _from_squawk(
    r: RawFinding, st: Statement, source: str, label: Callable[[Statement], str] | None
) -> Finding:
    return Finding(
        source=label(st) if label and st.text else source,
        line=st.first_line + 1,
        rule=r.rule,
        level=r.level,
        message=r.message,
        help=r.help,
        statement=_short(st.text),
        lock=lock_of(st),
    )


def _finding(
    st: Statement,
    source: str,
    label: Callable[[Statement], str] | None,
    *,
    rule: str,
    message: str,
    help: str,
) -> Finding:
    return Finding(
        source=label(st) if label else source,
        line=st.first_line + 1,
        rule=rule,
        level="warning",
        message=message,
        help=help,
        statement=_short(st.text),
        lock=lock_of(st),
        origin="pgwarden",
    )


def _short(text: str, limit: int = 160) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"
