"""pgwarden lint: squawk's findings with pgwarden's knowledge, each rule both ways."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pgwarden.cli import app
from pgwarden.lint import Finding, lint_alembic, lint_sql, lock_of, split


def _rules(found: list[Finding]) -> set[str]:
    return {f.rule for f in found}


def _by_rule(found: list[Finding], rule: str) -> Finding:
    [hit] = [f for f in found if f.rule == rule]
    return hit


def test_create_table_of_a_new_table_gets_no_timeout_finding() -> None:
    new = lint_sql("CREATE TABLE IF NOT EXISTS t (id bigint PRIMARY KEY);")
    assert not _rules(new) & {"require-lock-timeout", "require-statement-timeout"}
    # ...unless it references an existing table: its foreign key locks that one.
    fk = lint_sql(
        "SET lock_timeout = '1s';\n"
        "CREATE TABLE IF NOT EXISTS t (id bigint PRIMARY KEY, p bigint REFERENCES parent);"
    )
    hit = _by_rule(fk, "require-statement-timeout")
    assert (hit.line, hit.lock) == (2, "SHARE ROW EXCLUSIVE")
    # A reference to a table made earlier in the same migration locks no one's table.
    both = lint_sql(
        "CREATE TABLE IF NOT EXISTS p (id bigint PRIMARY KEY);\n"
        "CREATE TABLE IF NOT EXISTS c (id bigint PRIMARY KEY, p bigint REFERENCES p);"
    )
    assert not _rules(both) & {"require-lock-timeout", "require-statement-timeout"}
    # A new table is empty: adding a NOT NULL column or an index to it locks no one.
    later = "ALTER TABLE t ADD COLUMN IF NOT EXISTS c bigint NOT NULL;\nCREATE INDEX IF NOT EXISTS i ON t (c);"
    assert not _rules(lint_sql("CREATE TABLE IF NOT EXISTS t (id bigint PRIMARY KEY);\n" + later))
    old = _rules(lint_sql(later, lock_timeout_set=True))
    assert {"adding-required-field", "require-concurrent-index-creation"} <= old


def test_lock_timeout_findings_name_the_lock_and_respect_the_runner() -> None:
    text = "ALTER TABLE t ADD COLUMN c text;"
    hit = _by_rule(lint_sql(text), "require-lock-timeout")
    assert hit.lock == "ACCESS EXCLUSIVE" and "blocks reads and writes" in hit.lock_text
    assert "require-lock-timeout" not in _rules(lint_sql("SET lock_timeout = '2s';\n" + text))
    assert "require-lock-timeout" not in _rules(lint_sql(text, lock_timeout_set=True))
    # pgwarden's own apply sets lock_timeout and re-plans rather than re-runs.
    own = _rules(lint_sql(text, by_pgwarden=True, in_transaction=True))
    assert not own & {"require-lock-timeout", "require-statement-timeout", "prefer-robust-stmts"}


def test_index_creation_both_ways() -> None:
    plain = lint_sql("CREATE INDEX IF NOT EXISTS i ON t (c);", lock_timeout_set=True)
    assert _by_rule(plain, "require-concurrent-index-creation").lock == "SHARE"
    unsafe = lint_sql("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (c);", lock_timeout_set=True)
    retry = _by_rule(unsafe, "concurrent-index-retry")
    assert (retry.origin, retry.lock) == ("pgwarden", "SHARE UPDATE EXCLUSIVE")
    assert "require-concurrent-index-creation" not in _rules(unsafe)
    safe = lint_sql(
        "DROP INDEX CONCURRENTLY IF EXISTS i;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (c);",
        lock_timeout_set=True,
    )
    assert not _rules(safe) & {"concurrent-index-retry", "require-concurrent-index-creation"}


def test_constraints_both_ways() -> None:
    bad = lint_sql("ALTER TABLE t ADD CONSTRAINT c CHECK (x > 0);", lock_timeout_set=True)
    assert _by_rule(bad, "constraint-missing-not-valid").lock == "ACCESS EXCLUSIVE"
    good = lint_sql(
        "ALTER TABLE t ADD CONSTRAINT c CHECK (x > 0) NOT VALID;\n"
        "ALTER TABLE t VALIDATE CONSTRAINT c;",
        lock_timeout_set=True,
    )
    assert "constraint-missing-not-valid" not in _rules(good)
    assert lock_of(split("ALTER TABLE t VALIDATE CONSTRAINT c")[0]) == "SHARE UPDATE EXCLUSIVE"


def test_split_keeps_quotes_dollar_quotes_and_comments_whole() -> None:
    text = (
        "-- a comment; not a statement\n"
        "INSERT INTO t VALUES ('a;b', \"x;y\");\n"
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ select 1; $body$;\n"
        "/* block; */ SELECT 2"
    )
    parts = split(text)
    assert [p.first_line for p in parts] == [1, 2, 3]
    assert parts[0].text.endswith('"x;y")') and "select 1;" in parts[1].text


def test_plan_statements_are_linted_as_pgwarden_runs_them(
    conn: object, make_warden: object
) -> None:
    import psycopg

    from pgwarden import Warden
    from pgwarden.lint import lint_plan

    assert isinstance(conn, psycopg.Connection)
    conn.execute("create table t (id bigint primary key, x int)")
    warden: Warden = make_warden(  # type: ignore[operator]
        '[tables."public.t"]\ntimestamps = true\n[tables."public.t".checks]\npositive = "x > 0"\n'
    )
    found = lint_plan(warden.plan())
    # Its ADD ... NOT VALID then VALIDATE (after the commit) is the safe pattern; its
    # statements run with lock_timeout: none of those findings.
    assert not _rules(found) & {
        "constraint-missing-not-valid",
        "require-lock-timeout",
        "require-statement-timeout",
    }
    assert all(f.source != "plan" for f in found)


def _alembic_project(root: Path) -> Path:
    (root / "versions").mkdir(parents=True)
    (root / "alembic.ini").write_text(
        "[alembic]\nscript_location = .\nsqlalchemy.url = postgresql://localhost/x\n"
    )
    (root / "env.py").write_text(
        "from alembic import context\n"
        "context.configure(url=context.config.get_main_option('sqlalchemy.url'),"
        " literal_binds=True)\n"
        "with context.begin_transaction():\n"
        "    context.run_migrations()\n"
    )
    (root / "script.py.mako").write_text("")
    for rev, down, body in (
        (
            "a1",
            None,
            "op.execute('CREATE TABLE IF NOT EXISTS t (id bigint PRIMARY KEY, x bigint)')",
        ),
        ("b2", "a1", "op.create_index('t_x', 't', ['x'])"),
    ):
        (root / "versions" / f"{rev}.py").write_text(
            "from alembic import op\n"
            f"revision = {rev!r}\ndown_revision = {down!r}\n"
            f"def upgrade():\n    {body}\n"
        )
    return root


def test_alembic_offline_sql_of_pending_revisions(tmp_path: Path) -> None:
    project = _alembic_project(tmp_path / "mig")
    found = lint_alembic(project)
    # Only the second revision's plain CREATE INDEX; alembic's own bookkeeping is not linted.
    assert {f.source for f in found} == {f"{project}@b2"}
    assert "require-concurrent-index-creation" in _rules(found)
    assert all("alembic_version" not in f.statement for f in found)
    assert lint_alembic(project, since="b2") == []


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    good = tmp_path / "good.sql"
    good.write_text("CREATE TABLE IF NOT EXISTS t (id bigint PRIMARY KEY);\n")
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE INDEX IF NOT EXISTS i ON t (c);\n")
    runner = CliRunner()
    ok = runner.invoke(app, ["lint", str(good)])
    assert ok.exit_code == 0, ok.output
    found = runner.invoke(app, ["lint", "--json", str(bad)])
    assert found.exit_code == 2
    rows = json.loads(found.stdout)
    assert {r["rule"] for r in rows} >= {"require-concurrent-index-creation"}
    assert {r["lock"] for r in rows} == {"SHARE"}
    missing = runner.invoke(app, ["lint", str(tmp_path / "nope.sql")])
    assert missing.exit_code == 1


@pytest.mark.parametrize(
    ("statement", "lock"),
    [
        ("REFRESH MATERIALIZED VIEW CONCURRENTLY v", "EXCLUSIVE"),
        ("REFRESH MATERIALIZED VIEW v", "ACCESS EXCLUSIVE"),
        (
            "CREATE TRIGGER x AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
            "SHARE ROW EXCLUSIVE",
        ),
        (
            "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (p) REFERENCES p NOT VALID",
            "SHARE ROW EXCLUSIVE",
        ),
        ("DROP INDEX CONCURRENTLY i", "SHARE UPDATE EXCLUSIVE"),
        ("UPDATE t SET x = 1", "ROW EXCLUSIVE"),
        ("SELECT 1", None),
    ],
)
def test_locks_named(statement: str, lock: str | None) -> None:
    assert lock_of(split(statement)[0]) == lock


def test_pgwarden_plan_shows_the_lint_of_its_own_statements(project: Path, conn: Any) -> None:
    conn.execute("create table t (id bigint primary key, name text)")
    (project / "pgwarden.toml").write_text('[tables."public.t"]\nsoft_delete = true\n')
    runner = CliRunner()
    result = runner.invoke(app, ["plan", "--json"])
    assert result.exit_code == 0, result.output
    lint = json.loads(result.stdout)["lint"]
    # soft_delete's partial indexes are built inside the apply transaction: writes wait.
    hit = [f for f in lint if f["rule"] == "require-concurrent-index-creation"]
    assert hit and all(f["lock"] == "SHARE" for f in hit)
    assert all("public.t" in f["source"] for f in hit)
    assert not {f["rule"] for f in lint} & {"require-lock-timeout", "require-statement-timeout"}
    shown = runner.invoke(app, ["plan"])
    assert "lint require-concurrent-index-creation" in shown.stdout


@pytest.mark.parametrize(
    ("rule", "bad", "good", "lock"),
    [
        (
            "adding-foreign-key-constraint",
            "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (p) REFERENCES p (id);",
            "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (p) REFERENCES p (id) NOT VALID;\n"
            "ALTER TABLE t VALIDATE CONSTRAINT f;",
            "SHARE ROW EXCLUSIVE",
        ),
        (
            "disallowed-unique-constraint",
            "ALTER TABLE t ADD CONSTRAINT u UNIQUE (c);",
            "DROP INDEX CONCURRENTLY IF EXISTS u;\n"
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS u ON t (c);\n"
            "ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX u;",
            "ACCESS EXCLUSIVE",
        ),
        (
            "adding-not-nullable-field",
            "ALTER TABLE t ALTER COLUMN c SET NOT NULL;",
            "ALTER TABLE t ADD CONSTRAINT c_nn CHECK (c IS NOT NULL) NOT VALID;\n"
            "ALTER TABLE t VALIDATE CONSTRAINT c_nn;",
            "ACCESS EXCLUSIVE",
        ),
        (
            "adding-required-field",
            "ALTER TABLE t ADD COLUMN c bigint NOT NULL;",
            "ALTER TABLE t ADD COLUMN c bigint NOT NULL DEFAULT 0;",
            "ACCESS EXCLUSIVE",
        ),
        (
            "changing-column-type",
            "ALTER TABLE t ALTER COLUMN c TYPE bigint;",
            "ALTER TABLE t ADD COLUMN c_new bigint;",
            "ACCESS EXCLUSIVE",
        ),
    ],
)
def test_lock_rules_both_ways(rule: str, bad: str, good: str, lock: str) -> None:
    hit = _by_rule(lint_sql(bad, lock_timeout_set=True), rule)
    assert (hit.line, hit.lock, hit.origin) == (1, lock, "squawk")
    assert rule not in _rules(lint_sql(good, lock_timeout_set=True))


def test_concurrent_index_in_a_transaction_both_ways() -> None:
    text = (
        "DROP INDEX CONCURRENTLY IF EXISTS i;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (c);"
    )
    rule = "ban-concurrent-index-creation-in-transaction"
    assert _by_rule(lint_sql(text, in_transaction=True), rule).line == 2
    assert rule not in _rules(lint_sql(text, in_transaction=False))


def _revision(root: Path, rev: str, down: str | None, body: str) -> None:
    (root / "versions" / f"{rev}.py").write_text(
        "from alembic import op\n"
        f"revision = {rev!r}\ndown_revision = {down!r}\n"
        f"def upgrade():\n{textwrap.indent(textwrap.dedent(body), '    ')}\n"
    )


def test_alembic_autocommit_block_is_outside_the_transaction(tmp_path: Path) -> None:
    """Alembic runs a revision in a transaction; `autocommit_block()` (how a revision runs
    CREATE INDEX CONCURRENTLY) commits first and begins again after: its statements are not
    flagged as inside a transaction, a concurrent build without it is."""
    project = _alembic_project(tmp_path / "mig")
    _revision(
        project,
        "c3",
        "b2",
        """
        with op.get_context().autocommit_block():
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS t_y")
            op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS t_y ON t (x)")
    """,
    )
    _revision(
        project,
        "d4",
        "c3",
        """
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS t_z")
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS t_z ON t (x)")
    """,
    )
    found = lint_alembic(project, since="b2", lock_timeout_set=True)
    rule = "ban-concurrent-index-creation-in-transaction"
    assert {f.source for f in found if f.rule == rule} == {f"{project}@d4"}
    assert not [
        f for f in found if f.source.endswith("@c3") and f.rule != "require-statement-timeout"
    ]


def test_cli_lints_the_revisions_pending_in_the_database(project: Path, conn: Any) -> None:
    alembic = _alembic_project(project / "alembic")
    runner = CliRunner()
    every = runner.invoke(app, ["lint", "--alembic", str(alembic), "--json"])
    assert every.exit_code == 2, every.output
    assert {r["source"] for r in json.loads(every.stdout)} == {f"{alembic}@b2"}
    # The database is at b2 already: nothing is pending, nothing to lint.
    conn.execute("create table alembic_version (version_num varchar(32) primary key)")
    conn.execute("insert into alembic_version values ('b2')")
    pending = runner.invoke(app, ["lint", "--alembic", str(alembic), "--pending"])
    assert pending.exit_code == 0, pending.output
    assert "no findings" in pending.stdout
    conn.execute("update alembic_version set version_num = 'a1'")
    again = runner.invoke(app, ["lint", "--alembic", str(alembic), "--pending", "--json"])
    assert again.exit_code == 2
    assert {r["rule"] for r in json.loads(again.stdout)} >= {"require-concurrent-index-creation"}
    broken = project / "broken"
    broken.mkdir()
    assert runner.invoke(app, ["lint", "--alembic", str(broken)]).exit_code == 1
