"""Where migration SQL comes from: files, a pgwarden plan, an Alembic project (offline)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pgwarden.errors import LintError
from pgwarden.lint._lint import Finding, lint_sql
from pgwarden.lint._split import Statement

if TYPE_CHECKING:
    from pgwarden.engine import Plan


def lint_files(
    paths: list[Path], *, in_transaction: bool = False, lock_timeout_set: bool = False
) -> list[Finding]:
    """Lint each ``.sql`` file (a directory: its ``*.sql`` files, sorted) as one migration."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.sql")))
        elif path.is_file():
            files.append(path)
        else:
            raise LintError(f"{path}: no such file or directory")
    found: list[Finding] = []
    for file in files:
        try:
            text = file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise LintError(f"{file}: cannot be read: {exc}") from None
        found.extend(
            lint_sql(
                text, str(file), in_transaction=in_transaction, lock_timeout_set=lock_timeout_set
            )
        )
    return found


def lint_plan(plan: Plan) -> list[Finding]:
    """Lint the statements of a pgwarden plan as its apply runs them: transactional changes
    inside one transaction, the others alone; each finding is labelled with its change."""
    found: list[Finding] = []
    for in_tx in (True, False):
        changes = [c for c in plan.changes if c.transactional == in_tx and c.statements]
        if not changes:
            continue
        parts: list[str] = []
        spans: list[tuple[int, int, str]] = []
        line = 0
        for change in changes:
            text = change.sql
            lines = text.count("\n") + 1
            spans.append((line, line + lines - 1, change.description))
            parts.append(text)
            line += lines
        text = "\n".join(parts)

        def label(st: Statement, spans: list[tuple[int, int, str]] = spans) -> str:
            for first, last, description in spans:
                if first <= st.first_line <= last:
                    return description
            return "plan"

        found.extend(lint_sql(text, "plan", in_transaction=in_tx, by_pgwarden=True, label=label))
    return found


_REVISION = re.compile(r"^-- Running upgrade (.*?) -> (\S+)", re.M)


def alembic_sql(directory: Path, *, since: str | None = None) -> list[tuple[str, str]]:
    """The offline SQL (``alembic upgrade --sql``) of the revisions after ``since`` (default:
    all), as (revision, SQL) pairs. ``directory`` holds ``alembic.ini`` (or is the script
    location itself, with ``env.py``); its ``env.py`` must support offline mode."""
    try:
        from alembic import command
        from alembic.config import Config
        from alembic.util import CommandError
    except ImportError:
        raise LintError("linting Alembic needs alembic (pip install alembic)") from None
    buffer = io.StringIO()
    ini = directory / "alembic.ini"
    if ini.exists():
        config = Config(str(ini), output_buffer=buffer)
        location = config.get_main_option("script_location") or "."
        config.set_main_option("script_location", str((directory / location).resolve()))
    elif (directory / "env.py").exists():
        config = Config(output_buffer=buffer)
        config.set_main_option("script_location", str(directory))
    else:
        raise LintError(f"{directory}: no alembic.ini and no env.py (not an Alembic project)")
    try:
        command.upgrade(config, f"{since}:head" if since else "head", sql=True)
    except (CommandError, SystemExit, Exception) as exc:  # env.py is user code
        raise LintError(f"{directory}: alembic upgrade --sql failed: {exc}") from None
    # Alembic's own bookkeeping (alembic_version) is not the user's migration. Its BEGIN /
    # COMMIT stay: they say which statements run inside the runner's transaction and which
    # do not (an `autocommit_block()`, the way to run CREATE INDEX CONCURRENTLY, is a COMMIT
    # before its statements and a BEGIN after them).
    text = re.sub(
        r"(?m)^(INSERT INTO|UPDATE|CREATE TABLE) \S*alembic_version[^;]*;", "", buffer.getvalue()
    )
    marks = list(_REVISION.finditer(text))
    if not marks:
        return []
    found = []
    for mark, after in zip(marks, [*marks[1:], None], strict=True):
        chunk = text[mark.start() : after.start() if after else len(text)]
        # A revision that starts inside the runner's transaction says so on its first line
        # (no line moves: findings keep their line numbers), and one that ends inside it
        # commits after its last line (the runner commits later, after other revisions).
        before = _TRANSACTION.findall(text, 0, mark.start())[-1:] == ["BEGIN"]
        within = _TRANSACTION.findall(chunk)
        if within[-1:] == ["BEGIN"] or (before and not within):
            chunk += "\nCOMMIT;\n"
        found.append((mark.group(2), ("BEGIN; " if before else "") + chunk))
    return found


_TRANSACTION = re.compile(r"(?m)^(BEGIN|COMMIT);$")


def lint_alembic(
    directory: Path,
    *,
    since: str | None = None,
    in_transaction: bool = True,
    lock_timeout_set: bool = False,
) -> list[Finding]:
    """Lint each pending Alembic revision's offline SQL as one migration. Where the offline
    SQL has Alembic's BEGIN / COMMIT (PostgreSQL's transactional DDL), they say what runs in
    a transaction; ``in_transaction`` is for a revision without any."""
    found: list[Finding] = []
    for revision, text in alembic_sql(directory, since=since):
        explicit = text.startswith("BEGIN; ") or _TRANSACTION.search(text) is not None
        found.extend(
            lint_sql(
                text,
                f"{directory}@{revision}",
                in_transaction=in_transaction and not explicit,
                lock_timeout_set=lock_timeout_set,
            )
        )
    return found
