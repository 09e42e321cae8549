"""Bad declarations are refused at plan time, naming table and key, changing nothing; a
change that widens access is flagged in the plan."""

from __future__ import annotations

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
