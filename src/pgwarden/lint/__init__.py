"""Lock-safety lint of migration SQL: squawk's rules with pgwarden's knowledge on top.

:func:`lint_sql` lints one migration's text, :func:`lint_files` SQL files,
:func:`lint_alembic` the offline SQL of an Alembic project's pending revisions, and
:func:`lint_plan` the statements of a pgwarden plan (``pgwarden plan`` shows them). Each
:class:`Finding` names the rule, the statement and the table lock it takes. See
``docs/lint.md``.
"""

from pgwarden.lint._lint import Finding, lint_sql
from pgwarden.lint._locks import lock_of
from pgwarden.lint._sources import alembic_sql, lint_alembic, lint_files, lint_plan
from pgwarden.lint._split import Statement, split

__all__ = [
    "Finding",
    "Statement",
    "alembic_sql",
    "lint_alembic",
    "lint_files",
    "lint_plan",
    "lint_sql",
    "lock_of",
    "split",
]
