"""``pgwarden lint``: lock-safety lint of migration SQL files or an Alembic project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXIT_FINDINGS = 2


def register(app: typer.Typer) -> None:
    @app.command("lint")
    def lint(
        ctx: typer.Context,
        files: Annotated[
            list[Path] | None,
            typer.Argument(help="SQL files (or directories of *.sql), each one migration."),
        ] = None,
        alembic: Annotated[
            Path | None,
            typer.Option(help="An Alembic project (alembic.ini or env.py): lint its offline SQL."),
        ] = None,
        since: Annotated[
            str | None,
            typer.Option(help="With --alembic: lint revisions after this one (default: all)."),
        ] = None,
        pending: Annotated[
            bool,
            typer.Option(
                "--pending",
                help="With --alembic: start after the revision recorded in the database "
                "(its alembic_version table).",
            ),
        ] = False,
        version_table: Annotated[
            str, typer.Option(help="With --pending: the table Alembic records its revision in.")
        ] = "alembic_version",
        lock_timeout_set: Annotated[
            bool,
            typer.Option(
                "--lock-timeout-set",
                help="The migration runner sets lock_timeout itself: no timeout findings.",
            ),
        ] = False,
        in_transaction: Annotated[
            bool,
            typer.Option(
                "--transaction/--no-transaction",
                help="Whether the runner wraps each migration in a transaction "
                "(default: files no; Alembic: as its offline SQL's BEGIN/COMMIT say).",
            ),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print findings as JSON.")] = False,
    ) -> None:
        """Lint migration SQL for lock safety: squawk's rules, with pgwarden's knowledge.

        CREATE TABLE of a new table is not flagged, a runner that sets lock_timeout can say
        so, CREATE INDEX CONCURRENTLY without a retry-safe DROP first is flagged, and each
        finding names the table lock its statement takes. Exit codes: 0 no finding, 1 error
        (nothing could be linted), 2 findings.
        """
        from pgwarden.cli._common import console, fail, options, print_json
        from pgwarden.errors import LintError, PgwardenError
        from pgwarden.lint import lint_alembic, lint_files

        if not files and alembic is None:
            fail(LintError("give SQL files, or --alembic DIR"))
        try:
            found = lint_files(
                list(files or []), in_transaction=in_transaction, lock_timeout_set=lock_timeout_set
            )
            if alembic is not None:
                start = since
                if pending and start is None:
                    start = _recorded_revision(options(ctx), version_table)
                found += lint_alembic(
                    alembic,
                    since=start,
                    in_transaction=in_transaction or not files,
                    lock_timeout_set=lock_timeout_set,
                )
        except PgwardenError as exc:
            fail(exc)
        if as_json:
            print_json([f.to_json() for f in found])
        else:
            for f in found:
                colour = "red" if f.level == "error" else "yellow"
                console.print(
                    f"[{colour}]{f.level}[/] {f.source}:{f.line} [bold]{f.rule}[/]"
                    f"{' (pgwarden)' if f.origin == 'pgwarden' else ''}: {f.message}",
                    markup=True,
                )
                console.print(f"  statement {f.lock_text}: {f.statement}", markup=False)
                if f.help:
                    console.print(f"  help: {f.help}", markup=False)
            console.print(f"{len(found)} finding(s)" if found else "no findings")
        raise typer.Exit(EXIT_FINDINGS if found else 0)


def _recorded_revision(opts: object, table: str) -> str | None:
    from psycopg import sql

    from pgwarden._names import QualifiedName
    from pgwarden.cli._common import Options
    from pgwarden.errors import LintError

    assert isinstance(opts, Options)
    name = QualifiedName.parse(table)
    with opts.warden().connect(autocommit=True) as conn:
        exists = conn.execute("select to_regclass(%s)", (name.regclass_text,)).fetchone()
        if not exists or exists[0] is None:
            return None
        row = conn.execute(
            sql.SQL("SELECT version_num FROM {} LIMIT 2").format(name.ident)
        ).fetchall()
    if len(row) > 1:
        raise LintError(f"{table} records several heads; give --since")
    return str(row[0][0]) if row else None
