"""``[roles]`` and ``tenancy`` declared together, as the roles module creates them: the app
role logged in with its password sees its tenant only with a signed context and nothing
without; the read-only role reads its tenant; the admin role (BYPASSRLS) sees all; roles'
grants on ``warden`` with tenancy's filters on the audit store give the app its own tenant's
history through SQL, nothing else; and the plan refuses an app role that bypasses RLS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from tests.tenancy.conftest import sign

from pgwarden import Warden
from pgwarden.errors import PgwardenError
from pgwarden.spec import parse_spec

TABLE = """
[tables."public.docs"]
audit = true
tenancy = { column = "org_id" }
"""


def spec_for(tag: str, variable: str) -> str:
    return (
        f'[roles]\nschemas = ["public"]\nowner = "{tag}_owner"\n'
        f'app = {{ name = "{tag}_app", password = "env:{variable}" }}\n'
        f'readonly = {{ name = "{tag}_ro", login = true }}\nadmin = "{tag}_admin"\n' + TABLE
    )


@pytest.fixture
def tag(db_url: str) -> Iterator[str]:
    made = f"tr{uuid.uuid4().hex[:8]}"
    yield made
    with psycopg.connect(db_url, autocommit=True) as conn:
        for slot in ("app", "ro", "admin", "owner"):
            name = f"{made}_{slot}"
            if conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(name)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def login(url: str, role: str, password: str | None = None) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["user"] = role
    params.pop("password", None)
    if password is not None:
        params["password"] = password
    return psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]


def scram_matches(verifier: str, password: str) -> bool:
    """Whether ``verifier`` (pg_authid.rolpassword) is SCRAM-SHA-256 of ``password``: the
    servers under test trust local connections, so this is what makes the login a real one."""
    method, rest = verifier.split("$", 1)
    params, keys = rest.split("$")
    iterations, salt = params.split(":")
    stored, _server = keys.split(":")
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return (
        method == "SCRAM-SHA-256"
        and base64.b64encode(hashlib.sha256(client_key).digest()).decode() == stored
    )


def test_app_readonly_admin_over_real_logins(
    db_url: str, tag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable, password = f"PW_{tag.upper()}", uuid.uuid4().hex
    monkeypatch.setenv(variable, password)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("create table docs (id bigserial primary key, org_id bigint, body text)")
    spec = parse_spec(spec_for(tag, variable), file="pgwarden.toml")
    with Warden(db_url, spec=spec) as installer:
        installer.apply()
        assert installer.plan().changes == ()
        key = installer.tenant_key
        assert key is not None
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("insert into docs (org_id, body) values (1, 'a'), (1, 'b'), (2, 'c')")
        verifier = conn.execute(
            "select rolpassword from pg_authid where rolname = %s", (f"{tag}_app",)
        ).fetchone()
    assert verifier is not None and scram_matches(verifier[0], password)
    assert not scram_matches(verifier[0], password + "x")

    # The app role, logged in with its password: its tenant with a signed context only.
    with Warden(login(db_url, f"{tag}_app", password), spec=spec, tenant_key=key) as app:
        with app.session(tenant="1") as db:
            assert sorted(r[0] for r in db.execute("select body from docs")) == ["a", "b"]
            db.execute("insert into docs (body) values ('a2')")  # org_id from the context
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app.session(tenant="1") as db:
            db.execute("insert into docs (org_id, body) values (2, 'forged')")
        with app.session(tenant="2") as db:
            assert [r[0] for r in db.execute("select body from docs")] == ["c"]
            # Its own tenant's history through SQL (roles' grants, tenancy's filters).
            events = db.execute(
                "select new_row->>'body' from warden.audit_events_all order by 1"
            ).fetchall()
            assert events == [("c",)]
            other = db.execute(
                "select count(*) from warden.history('public.docs',"
                " warden.audit_key('public.docs', array['1']))"
            ).fetchone()
            assert other == (0,)
            own = db.execute(
                "select count(*) from warden.history('public.docs',"
                " warden.audit_key('public.docs', array['3']))"
            ).fetchone()
            assert own is not None and own[0] >= 1
        with app.connect() as conn:  # no context: nothing, and no write
            assert conn.execute("select count(*) from docs").fetchone() == (0,)
            assert conn.execute("select count(*) from warden.audit_events_all").fetchone() == (0,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("insert into docs (org_id, body) values (1, 'none')")
            conn.rollback()
            conn.execute("set pgwarden.tenant = '1'")  # claimed, not signed
            assert conn.execute("select count(*) from docs").fetchone() == (0,)

    # The read-only role reads its tenant, and writes nothing.
    with psycopg.connect(login(db_url, f"{tag}_ro")) as conn:
        sign(conn, key, "1")
        assert conn.execute("select count(*) from docs").fetchone() == (3,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("insert into docs (org_id, body) values (1, 'ro')")
    with psycopg.connect(login(db_url, f"{tag}_ro")) as conn:
        assert conn.execute("select count(*) from docs").fetchone() == (0,)

    # The admin role (BYPASSRLS) sees every tenant without a context.
    with psycopg.connect(login(db_url, f"{tag}_admin")) as conn:
        row = conn.execute("select rolbypassrls from pg_roles where rolname = current_user")
        assert row.fetchone() == (True,)
        assert conn.execute("select count(*) from docs").fetchone() == (4,)


def test_plan_refuses_an_app_role_that_bypasses_rls(db_url: str, tag: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("create table docs (id bigserial primary key, org_id bigint, body text)")
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN BYPASSRLS").format(sql.Identifier(f"{tag}_app")))
        before = conn.execute("select count(*) from pg_policy").fetchone()
    text = spec_for(tag, "UNUSED").replace(', password = "env:UNUSED"', "")
    with (
        Warden(db_url, spec=parse_spec(text, file="pgwarden.toml")) as warden,
        pytest.raises(PgwardenError) as refused,
    ):
        warden.plan()
    assert f"{tag}_app" in str(refused.value) and "BYPASSRLS" in str(refused.value)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select count(*) from pg_policy").fetchone() == before
        assert conn.execute(
            "select count(*) from pg_roles where rolname like %s", (f"{tag}_%",)
        ).fetchone() == (1,)
