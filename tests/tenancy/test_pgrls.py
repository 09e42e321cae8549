"""An independent RLS linter on what pgwarden generates: ``pgrls lint`` and ``pgrls verify``
(PyPI ``pgrls``, a dev dependency) over a schema whose every table is tenanted (both
shapes: a tenant key and ownership with a grant table), with audit, versioning and soft
delete on, the roles declared.

Every finding must be one that docs/tenancy.md ("Checked by pgrls") explains as deliberate;
anything else fails the test, so a generated policy, trigger or grant that opens a hole
pgrls knows about is caught here. ``pgrls verify`` must find no leaking table in any mode.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pgwarden import Warden
from pgwarden.spec import parse_spec

pytest.importorskip("pgrls")

SCHEMA = """
create schema acme;
create table acme.projects (id bigserial primary key, org_id bigint not null, name text not null);
create table acme.docs (id bigserial primary key, org_id bigint not null,
                        project_id bigint references acme.projects, body text);
create table acme.shares (project_id bigint not null references acme.projects,
                          viewer bigint not null, owner bigint not null,
                          can_write boolean not null default false,
                          primary key (project_id, viewer));
create table acme.notes (id bigserial primary key, owner_id bigint not null,
                         project_id bigint not null references acme.projects, body text);
"""


def declaration(tag: str) -> str:
    return f"""
[roles]
schemas = ["acme"]
owner = "{tag}_owner"
app = "{tag}_app"
readonly = "{tag}_ro"
admin = "{tag}_admin"

[tables."acme.projects"]
audit = true
soft_delete = true
tenancy = {{ column = "org_id" }}

[tables."acme.docs"]
audit = true
versioning = true
tenancy = {{ column = "org_id" }}

[tables."acme.shares"]
audit = true
tenancy = {{ column = "owner" }}

[tables."acme.notes"]
audit = true
tenancy = {{ column = "owner_id", grant = {{ table = "acme.shares", on = "project_id", grantee = "viewer", owner = "owner", write = "can_write" }} }}
"""


TABLE = r"acme\.(projects|docs|shares|notes)"
STORE = r"warden\.audit_(events|events_archive|contexts)"
OURS = r"warden\.acme_\w+__\w+"  # a table's trigger functions (audit, tenancy, soft delete)
# Rule -> the locations where its finding is deliberate (docs/tenancy.md, "Checked by pgrls").
BY_DESIGN: dict[str, str] = {
    # The admin policy (TO the admin role only, USING/WITH CHECK true): what lets an admin
    # role without BYPASSRLS (an adopted one) pass; the rules read it as if anyone could.
    "SEC005": rf"{TABLE}\.pgwarden_tenancy_admin",
    "SEC008": rf"{TABLE}\.pgwarden_tenancy_admin",
    "SEC023": rf"{TABLE}\.pgwarden_tenancy_admin",
    "SEC028": rf"{TABLE}\.pgwarden_tenancy_admin",
    "SEC038": rf"{TABLE}\.pgwarden_tenancy_admin",
    "SEC016": r"\w+",  # the admin role's BYPASSRLS (and other such roles of the cluster)
    # One permissive policy per command: no OR of several policies to bypass.
    "SEC007": rf"{TABLE}|{STORE}",
    # pgwarden's SECURITY DEFINER triggers and functions, reviewed: they write pgwarden's
    # own tables, or verify (warden.tenant), and return nothing of other tenants.
    "SEC013": rf"{TABLE}\.pgwarden_\w+",
    "SEC014": rf"{OURS}|warden\.(tenant|allow_hard_delete|hard_delete_allowed"
    r"|audit_adopt_partitions|audit_track_columns|audit_erase)",
    # ... and the grant list, callable by every role the policies judge: it reads the
    # verified tenant itself, so it lists only the caller's own grants.
    "SEC042": r"warden\.(tenant|audit_adopt_partitions|acme_\w+__tenancy_grants)\b",
    # security_invoker views: the table's own policies apply to whoever reads them.
    "VIEW002": r"acme\.(docs__versions|projects__live)|warden\.audit_(events|facts)_all",
    # pgwarden's own tables: no tenant rows, no grant to the app or read-only roles.
    "SEC001": r"warden\.\w+",
    # The audit store: written by capture as its owner (hence no FORCE and read-only
    # policies), filtered per tenant for every reader by its tables' registrations.
    "SEC002": STORE,
    "SEC003": rf"{STORE}\.pgwarden_tenancy_read",
    "SEC022": STORE,
    "SEC025": rf"{STORE}\.pgwarden_tenancy_read",
    "PERF003": rf"{STORE}\.pgwarden_tenancy_read",
}


@pytest.fixture
def tenanted(db_url: str) -> Iterator[str]:
    tag = f"rl{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    with Warden(db_url, spec=parse_spec(declaration(tag), file="pgwarden.toml")) as warden:
        warden.apply()
    yield db_url
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("drop schema acme cascade")
        for slot in ("app", "ro", "admin", "owner"):
            name = sql.Identifier(f"{tag}_{slot}")
            conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(name))
            conn.execute(sql.SQL("DROP ROLE {}").format(name))


def pgrls(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pgrls", *args]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def _grant_key(finding: dict[str, str]) -> bool:
    """PERF003 on the grant clause's key: the policies test it against the grants listed
    once per statement (``ROW(project_id, owner_id)::text = ANY (...)``), which no index on
    it would serve; the tenant column (``owner_id``) must still never be named."""
    return (
        finding["rule_id"] == "PERF003"
        and re.fullmatch(r"acme\.notes\.pgwarden_tenancy_\w+", finding["location"]) is not None
        and "column 'project_id'" in finding["message"]
    )


def test_every_lint_finding_is_a_documented_one(tenanted: str) -> None:
    done = pgrls("lint", "--database-url", tenanted, "--schemas", "acme,warden", "--format", "json")
    assert done.stdout, done.stderr
    found = json.loads(done.stdout)["violations"]
    unexplained = [
        f"{v['rule_id']} {v['location']}: {v['message'][:200]}"
        for v in found
        if not re.fullmatch(BY_DESIGN.get(v["rule_id"], r"(?!)"), v["location"])
        and not _grant_key(v)
    ]
    assert unexplained == []
    # What the linter would flag if pgwarden got it wrong is not among them: trigger
    # functions executable by PUBLIC, unindexed tenant keys, tables without FORCE.
    rules_on_tables = {
        v["rule_id"] for v in found if re.match(rf"{TABLE}\b", v["location"]) and not _grant_key(v)
    }
    assert not rules_on_tables & {"SEC001", "SEC002", "PERF001", "PERF003", "SEC021"}
    assert not [
        v for v in found
        if v["rule_id"] == "SEC042" and "__" in v["location"] and "__tenancy_grants" not in v["location"]
    ]  # fmt: skip


def test_verify_finds_no_leak(tenanted: str, tmp_path: Path) -> None:
    config = tmp_path / "pgrls.toml"
    config.write_text('[lint.rules.SEC021]\nidentity_columns = ["org_id", "owner", "owner_id"]\n')
    verdicts: dict[str, dict[str, str]] = {}
    for mode in ("anon", "cross-tenant", "write"):
        done = pgrls(
            "verify", "--database-url", tenanted, "--schemas", "acme", "--mode", mode,
            "--auth-function", "warden.tenant", "--format", "json", config=config,
        )  # fmt: skip
        assert done.stdout, done.stderr
        tables = json.loads(done.stdout)["tables"]
        verdicts[mode] = {t["table"]: t["verdict"] for t in tables}
    assert all(v != "leak" for per_mode in verdicts.values() for v in per_mode.values()), verdicts
    # An anonymous session (no tenant claimed) is proven to read nothing of the key tables.
    assert {verdicts["anon"][t] for t in ("acme.docs", "acme.projects", "acme.shares")} == {
        "isolated"
    }
