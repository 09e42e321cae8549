"""Bad declarations are refused at plan time, naming table and key, changing nothing; a
change that widens access is flagged in the plan."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.tenancy.conftest import Roles

from pgwarden import FeatureNotApplicable, SpecError, Warden

SCHEMA = """
create table t (id int primary key, org_id bigint, at timestamptz, item int);
create table g (item int, viewer bigint, owner bigint, w boolean, note text);
"""


@pytest.mark.parametrize(
    ("declaration", "says"),
    [
        ('tenancy = { column = "tenant" }', "column: public.t has no column tenant"),
        ('tenancy = { column = "at" }', "column at is timestamp with time zone"),
        ('tenancy = { column = "org_id", grant = { table = "nope", on = "item",'
         ' grantee = "viewer" } }', "grant.table: no table or view public.nope"),
        ('tenancy = { column = "org_id", grant = { table = "g", on = "item",'
         ' grantee = "who" } }', "grant.grantee: public.g has no column who"),
        ('tenancy = { column = "org_id", grant = { table = "g", on = "item",'
         ' grantee = "viewer", write = "note" } }', "grant.write: public.g.note is text"),
    ],
)  # fmt: skip
def test_bad_declarations_change_nothing(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], declaration: str, says: str
) -> None:
    conn.execute(SCHEMA)
    with pytest.raises(FeatureNotApplicable) as caught:
        make_warden(f'[tables."public.t"]\n{declaration}\n').apply()
    assert "public.t" in str(caught.value) and says in str(caught.value)
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)


def test_unknown_key_is_a_spec_error(make_warden: Callable[..., Warden]) -> None:
    with pytest.raises(SpecError, match="colum"):
        make_warden('[tables."public.t"]\ntenancy = { colum = "org_id" }\n')


@pytest.mark.parametrize("attribute", ["SUPERUSER", "BYPASSRLS"])
def test_an_app_role_rls_would_not_apply_to_is_refused(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], attribute: str
) -> None:
    conn.execute(SCHEMA)
    role = f"tn_bad_{attribute.lower()}_{conn.info.backend_pid}"
    conn.execute(sql.SQL("CREATE ROLE {} " + attribute).format(sql.Identifier(role)))
    try:
        with pytest.raises(FeatureNotApplicable, match=f"roles.app: role {role} is"):
            make_warden(
                f'[roles]\napp = "{role}"\n[tables."public.t"]\ntenancy = {{ column = "org_id" }}\n'
            ).apply()
        assert conn.execute(
            "select relrowsecurity from pg_class where oid = 't'::regclass"
        ).fetchone() == (False,)
    finally:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_permissive_policy_of_the_users_is_refused(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(SCHEMA + "create policy everyone on t using (true);")
    with pytest.raises(FeatureNotApplicable, match="permissive policy of its own \\(everyone\\)"):
        make_warden('[tables."public.t"]\ntenancy = { column = "org_id" }\n').apply()


def test_widening_changes_are_flagged(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], roles: Roles
) -> None:
    conn.execute(SCHEMA)
    grant = '{ table = "g", on = "item", grantee = "viewer", owner = "owner" }'
    narrow = (
        roles.toml() + f'[tables."public.t"]\ntenancy = {{ column = "org_id", grant = {grant} }}\n'
    )
    make_warden(narrow).apply()
    wider = narrow.replace('owner = "owner" }', 'owner = "owner", write = "w" }')
    lines = [c.description for c in make_warden(wider).plan().changes]
    widening = [line for line in lines if "WIDENS ACCESS" in line]
    assert {line.split(" of ")[0] for line in widening} == {
        "policy INSERT", "policy UPDATE", "policy DELETE",
    }  # fmt: skip
    # Without [roles], the policies apply to PUBLIC: wider than the app role alone.
    public = f'[tables."public.t"]\ntenancy = {{ column = "org_id", grant = {grant} }}\n'
    lines = [c.description for c in make_warden(public).plan().changes]
    assert any("WIDENS ACCESS: now applies to PUBLIC" in line for line in lines)
    # Narrowing back is not flagged.
    make_warden(wider).apply()
    assert not any("WIDENS" in c.description for c in make_warden(narrow).plan().changes)


def test_policies_of_the_earlier_grant_form_are_replaced_without_an_alarm(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], roles: Roles
) -> None:
    """A database applied before grants were listed by a function has a correlated EXISTS
    in each policy: the plan replaces them (their SQL differs) and does not call that a
    widening, since both let through the same rows (the terms are the same)."""
    conn.execute(SCHEMA)
    grant = '{ table = "g", on = "item", grantee = "viewer", owner = "owner", write = "w" }'
    declaration = (
        roles.toml() + f'[tables."public.t"]\ntenancy = {{ column = "org_id", grant = {grant} }}\n'
    )
    make_warden(declaration).apply()
    tenant = '(SELECT "warden"."tenant"()::bigint)'
    exists = (
        f'EXISTS (SELECT 1 FROM "public"."g" g WHERE g."item" = "t"."item" AND g."viewer" = '
        f'{tenant} AND g."owner" = "t"."org_id"{{}})'
    )
    own = f'"t"."org_id" = {tenant}'
    read = f"({own} OR {exists.format('')})"
    write = f"({own} OR {exists.format(' AND g.' + chr(34) + 'w' + chr(34))})"
    earlier = {
        "select": f"USING {read}",
        "insert": f"WITH CHECK {write}",
        "update": f"USING {write} WITH CHECK {write}",
        "delete": f"USING {write}",
    }
    for command, clauses in earlier.items():
        conn.execute(f"ALTER POLICY pgwarden_tenancy_{command} ON t {clauses}")  # type: ignore[arg-type]
        # The terms each policy records (its comment, which the next plan compares) are
        # those the earlier code recorded: the EXISTS, whatever SQL runs.
        comment = conn.execute(
            "select obj_description(oid, 'pg_policy') from pg_policy where polname = %s",
            (f"pgwarden_tenancy_{command}",),
        ).fetchone()
        assert comment is not None
        terms = json.loads(comment[0])
        assert [t for t in terms["using"] + terms["check"] if t.startswith("EXISTS (SELECT 1")]
    changes = [c.description for c in make_warden(declaration).plan().changes]
    replaced = [line for line in changes if line.startswith("policy ")]
    assert {line.split(" of ")[0] for line in replaced} == {
        "policy SELECT", "policy INSERT", "policy UPDATE", "policy DELETE",
    }  # fmt: skip
    assert not [line for line in changes if "WIDENS" in line]


def test_a_grant_taken_out_of_the_declaration_is_removed(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], roles: Roles
) -> None:
    """The policies call the grant function: without the grant they are replaced first and
    the function dropped after, not refused by the dependency."""
    conn.execute(SCHEMA)
    grant = '{ table = "g", on = "item", grantee = "viewer", owner = "owner", write = "w" }'
    head = roles.toml() + '[tables."public.t"]\n'
    make_warden(head + f'tenancy = {{ column = "org_id", grant = {grant} }}\n').apply()
    functions = "select count(*) from pg_proc where proname like '%tenancy_grants'"
    assert conn.execute(functions).fetchone() == (1,)
    make_warden(head + 'tenancy = { column = "org_id" }\n').apply()
    assert conn.execute(functions).fetchone() == (0,)
    using = conn.execute(
        "select string_agg(coalesce(pg_get_expr(polqual, polrelid), ''), ' ') from pg_policy"
        " where polrelid = 't'::regclass"
    ).fetchone()
    assert using is not None and "tenancy_grants" not in using[0]
