"""A tenant's MAC bound to a sequence the application picks before ``BEGIN`` (pgwarden_wal's
C verifier): it verifies once, above the backend's floor, in this backend only; whatever a
transaction held is spent when it ends, used or not. Sessions use it from a connection's
second transaction on, and fall back to the transaction's start wherever it cannot hold."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool, ConnectionPool
from tests.tenancy.conftest import Roles, Tenanted, as_role, c_verifier_available

from pgwarden.db import Context, TenantBinding, open_async_session, open_session, set_tenant


def _orgs(conn: psycopg.Connection[Any]) -> set[int]:
    return {r[0] for r in conn.execute("select org_id from docs")}


def _backend(conn: psycopg.Connection[Any]) -> tuple[str, int]:
    """The binding and floor the backend shows (the library loaded by a policy's call)."""
    _orgs(conn)
    row = conn.execute(
        "select current_setting('pgwarden_wal.tenant_binding'),"
        " current_setting('pgwarden_wal.tenant_floor')::bigint"
    ).fetchone()
    assert row is not None
    conn.rollback()
    return str(row[0]), int(row[1])


def _mac(key: bytes, binding: str, sequence: int, tenant: str) -> str:
    return TenantBinding(f"{binding}:{sequence}", sequence).sign(key, tenant)


def _claim(conn: psycopg.Connection[Any], tenant: str, mac: str) -> None:
    conn.execute(
        "select set_config('pgwarden.tenant', %s, true), set_config('pgwarden.tenant_mac', %s, true)",
        (tenant, mac),
    )


def _seen(conn: psycopg.Connection[Any], tenant: str, mac: str) -> set[int]:
    """What a transaction claiming ``tenant`` with ``mac`` sees; rolled back."""
    _claim(conn, tenant, mac)
    try:
        return _orgs(conn)
    finally:
        conn.rollback()


def test_a_sequence_verifies_above_the_floor_in_its_transaction_only(
    in_c: None, app: psycopg.Connection[Any], tenanted: Tenanted
) -> None:
    binding, floor = _backend(app)
    mac = _mac(tenanted.key, binding, floor + 5, "2")
    _claim(app, "2", mac)
    assert _orgs(app) == {2}
    assert _orgs(app) == {2}  # remembered for the transaction
    app.commit()
    assert _backend(app)[1] == floor + 5  # spent
    assert _seen(app, "2", mac) == set()  # replayed in the next transaction
    assert (
        _seen(app, "2", _mac(tenanted.key, binding, floor + 3, "2")) == set()
    )  # below the floor now
    assert _seen(app, "2", _mac(tenanted.key, binding, floor + 6, "2")) == {2}


@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_a_sequence_held_but_never_verified_is_spent_at_the_end(
    in_c: None, app: psycopg.Connection[Any], tenanted: Tenanted, end: str
) -> None:
    """A MAC set in a transaction that never read a tenanted table (an injected statement
    could read it there) is worthless afterwards, whether the transaction commits or not."""
    binding, floor = _backend(app)
    mac = _mac(tenanted.key, binding, floor + 1, "1")
    _claim(app, "1", mac)
    app.execute("select current_setting('pgwarden.tenant_mac')")
    getattr(app, end)()
    assert _backend(app)[1] == floor + 1
    assert _seen(app, "1", mac) == set()


def test_a_sequence_of_another_backend_or_malformed_signs_nothing(
    in_c: None, app: psycopg.Connection[Any], tenanted: Tenanted, roles: Roles
) -> None:
    binding, floor = _backend(app)
    with psycopg.connect(as_role(tenanted.url, roles.app)) as other:
        theirs, their_floor = _backend(other)
        assert theirs != binding and theirs.split(":")[0] != binding.split(":")[0]
        # Signed for the other backend: refused here, accepted there.
        mac = _mac(tenanted.key, theirs, max(floor, their_floor) + 1, "1")
        _claim(app, "1", mac)
        assert _orgs(app) == set()
        _claim(other, "1", mac)
        assert _orgs(other) == {1}
        other.rollback()
    app.rollback()
    binding, floor = _backend(app)  # the other backend's sequence is spent here too
    good = _mac(tenanted.key, binding, floor + 1, "1")
    digest = good.split(".", 1)[1]
    wrong_key = _mac(b"k" * 32, binding, floor + 1, "1")
    # The same pid with another random part (a backend that reused the pid).
    reused = _mac(tenanted.key, binding.split(":")[0] + ":n0000000000000000", floor + 1, "1")
    for mac in (
        wrong_key, reused, f"s.{digest}", f"s0.{digest}", f"s{floor + 1}{digest}",
        f"s{10**18 + floor + 1}.{digest}", f"s{floor + 1}.{digest.upper()}",
        f"s{floor + 1}.{digest}0", f"s-{floor + 1}.{digest}", f"S{floor + 1}.{digest}",
    ):  # fmt: skip
        assert _seen(app, "1", mac) == set(), mac
    assert (
        _seen(app, "2", _mac(tenanted.key, binding, floor + 2, "1")) == set()
    )  # signed for another claim
    assert _seen(app, "1", _mac(tenanted.key, binding, floor + 3, "1")) == {1}


def test_the_binding_and_the_floor_cannot_be_set(in_c: None, app: psycopg.Connection[Any]) -> None:
    binding, floor = _backend(app)
    for name in ("pgwarden_wal.tenant_binding", "pgwarden_wal.tenant_floor"):
        with pytest.raises(pg_errors.CantChangeRuntimeParam):
            app.execute("select set_config(%s, '0', false)", (name,))
        app.rollback()
    assert _backend(app) == (binding, floor)


def test_sessions_send_the_mac_with_begin_once_the_backend_is_known(
    tenanted: Tenanted, roles: Roles
) -> None:
    """A pool of one connection: its first session loads the verifier (the MAC follows on
    its own, bound to the transaction's start), the second learns the backend's binding,
    the next ones sign a sequence with BEGIN, and see their tenant's rows. A MAC read in one session signs nothing in the next. A
    server without the C verifier keeps the transaction's start, and still sees them."""
    key = tenanted.key
    with psycopg.connect(tenanted.url) as root:
        in_c = c_verifier_available(root)
    with ConnectionPool(as_role(tenanted.url, roles.app), min_size=1, max_size=1) as pool:
        seen = []
        for tenant in ("1", "2", "3", "2"):
            with open_session(pool, Context(actor="t", tenant=tenant), key) as db:
                assert db.binding is not None
                seen.append((db.binding.sequence is not None, _orgs(db.connection)))
                mac = db.connection.execute("select current_setting('pgwarden.tenant_mac')")
                captured = mac.fetchone()[0]  # type: ignore[index]
        assert seen == [(False, {1}), (False, {2}), (in_c, {3}), (in_c, {2})]
        with open_session(pool, Context(actor="t", tenant="1"), key) as db:
            _claim(db.connection, "2", captured)
            assert _orgs(db.connection) == set()
            set_tenant(db.connection, "2", key, db.binding)  # the session's own binding
            assert _orgs(db.connection) == {2}


def test_an_async_session_signs_with_begin_and_runs_outside_pipeline_mode(
    tenanted: Tenanted, roles: Roles
) -> None:
    async def scenario() -> list[tuple[bool, bool, set[int]]]:
        url = as_role(tenanted.url, roles.app)
        out = []
        async with AsyncConnectionPool(url, min_size=1, max_size=1, open=False) as pool:
            for tenant in ("1", "2", "3"):
                async with open_async_session(pool, Context(tenant=tenant), tenanted.key) as db:
                    cur = await db.execute("select org_id from docs")
                    orgs = {r[0] for r in await cur.fetchall()}
                    fast = db.binding is not None and db.binding.sequence is not None
                    piped = db.connection.info.pipeline_status != psycopg.pq.PipelineStatus.OFF
                    out.append((fast, piped, orgs))
        return out

    with psycopg.connect(tenanted.url) as root:
        in_c = c_verifier_available(root)
    assert asyncio.run(scenario()) == [
        (False, True, {1}), (False, True, {2}), (in_c, not in_c, {3})
    ]  # fmt: skip


_STEPS = st.lists(
    st.one_of(
        # Sign for this backend at the floor plus an offset (0 and below: refused).
        st.tuples(st.just("sign"), st.sampled_from(["1", "2"]), st.integers(-2, 3)),
        st.tuples(st.just("foreign"), st.sampled_from(["1", "2"]), st.just(1)),
        st.tuples(st.just("replay"), st.just(""), st.integers(0, 5)),
        st.tuples(st.just("forge"), st.sampled_from(["1", "2"]), st.just(1)),
        st.tuples(st.just("commit"), st.just(""), st.just(0)),
        st.tuples(st.just("rollback"), st.just(""), st.just(0)),
    ),
    max_size=16,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_STEPS)
def test_the_verifier_agrees_with_a_model_of_floors_for_any_sequence(
    in_c: None, tenanted: Tenanted, roles: Roles, steps: list[tuple[str, str, int]]
) -> None:
    """After every step the tenant the backend verifies is the model's: a MAC of this
    backend's binding with a sequence above the floor the transaction began with, signed
    with the key; at every end the floor rises to the highest sequence the transaction
    verified or still held."""
    key = tenanted.key
    with (
        psycopg.connect(as_role(tenanted.url, roles.app)) as conn,
        psycopg.connect(as_role(tenanted.url, roles.app)) as other,
    ):
        binding, floor = _backend(conn)
        foreign, _ = _backend(other)
        held: tuple[str, str, int | None, bool] | None = None  # claim, mac, sequence, ours
        verified = 0
        past: list[tuple[str, str, int | None, bool]] = []
        for action, tenant, offset in steps:
            if action in ("commit", "rollback"):
                getattr(conn, action)()
                floor = max(floor, verified, (held[2] or 0) if held else 0)
                held, verified = None, 0
            else:
                if action == "sign":
                    sequence = floor + offset
                    mac = _mac(key, binding, sequence, tenant) if sequence > 0 else "s0.x"
                    held = (tenant, mac, sequence if sequence > 0 else None, True)
                elif action == "foreign":
                    sequence = floor + 1000
                    held = (tenant, _mac(key, foreign, sequence, tenant), sequence, False)
                elif action == "forge":
                    sequence = floor + 1
                    forged = hmac.new(b"guess", b"x", "sha256").hexdigest()
                    held = (tenant, f"s{sequence}.{forged}", sequence, False)
                elif past:
                    held = past[offset % len(past)]  # perhaps of an ended transaction
                else:
                    continue
                _claim(conn, held[0], held[1])
                past.append(held)
            row = conn.execute("select array_agg(distinct org_id) from docs").fetchone()
            assert row is not None
            expected = None
            if held and held[3] and held[2] is not None and held[2] > floor:
                expected = [int(held[0])]
                verified = max(verified, held[2])
            assert row[0] == expected, (action, tenant, offset, floor)
        conn.rollback()


def test_a_binding_set_by_the_session_before_the_verifier_loads_is_not_trusted(
    in_c: None, tenanted: Tenanted, roles: Roles
) -> None:
    """Before pgwarden_wal is loaded in a backend its settings are mere placeholders, which
    an injected statement could set (here session-wide, on a fresh connection) to another
    backend's binding, so that the next session's MAC is bound to that backend, where the
    injection could replay it. Sessions trust a binding only when it names their own
    backend: the MAC read in such a session signs nothing on the other backend."""
    with (
        psycopg.connect(as_role(tenanted.url, roles.app)) as other,
        ConnectionPool(as_role(tenanted.url, roles.app), min_size=1, max_size=1) as pool,
    ):
        theirs, _ = _backend(other)
        with pool.connection() as conn:
            conn.execute(
                "select set_config('pgwarden_wal.tenant_binding', %s, false),"
                " set_config('pgwarden_wal.tenant_floor', '0', false)",
                (theirs,),
            )
        captured = []
        for tenant in ("1", "1"):  # no tenanted table read: the library stays unloaded
            with open_session(pool, Context(tenant=tenant), tenanted.key) as db:
                assert db.binding is not None and not db.binding.message.startswith(theirs)
                mac = db.execute("select current_setting('pgwarden.tenant_mac')").fetchone()
                captured.append(mac[0])
        for mac in captured:
            assert _seen(other, "1", mac) == set()
