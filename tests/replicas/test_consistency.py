"""What a read on a replica may see: its own earlier writes (read-your-writes, under random
interleavings with a replica that pauses), and only its tenant's rows (the signed tenant
verified on the standby; a forged one sees nothing)."""

from __future__ import annotations

import os
import secrets
from collections import Counter
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.replicas.conftest import Pair, until

from pgwarden import Warden
from pgwarden.db import Session
from pgwarden.spec import parse_spec


@pytest.fixture(scope="session")
def counter_warden(pair: Pair) -> Iterator[Warden]:
    spec = parse_spec(
        '[database]\nreplica_check = "100ms"\nreplay_wait = "50ms"\nmax_lag = "2s"\n',
        file="pgwarden.toml",
    )
    warden = Warden(pair.primary_url(), spec=spec, replicas=[pair.standby_url()])
    with warden.session() as db:
        db.execute("create table ryw (id int primary key, v bigint not null)")
        db.execute("insert into ryw values (1, 0)")
    yield warden
    warden.close()


def test_a_read_after_a_write_never_sees_older_data(pair: Pair, counter_warden: Warden) -> None:
    warden = counter_warden
    served: Counter[str] = Counter()

    def read(token: str | None, through_read: bool) -> int:
        def work(session: Session) -> int:
            served["replica" if session.server != "primary" else "primary"] += 1
            return int(session.execute("select v from ryw where id = 1").fetchone()[0])

        if through_read:
            return warden.read(work, after=token)
        with warden.session(readonly=True, after=token) as session:
            return work(session)

    ops = st.lists(
        st.sampled_from(["write", "write", "read", "read", "read", "pause", "resume"]),
        min_size=1,
        max_size=10,
    )

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(ops=ops, through_read=st.booleans())
    @example(ops=["write", "read", "pause", "write", "read", "resume", "read"], through_read=False)
    @example(ops=["pause", "write", "read", "write", "resume", "read"], through_read=True)
    def run(ops: list[str], through_read: bool) -> None:
        with warden.session() as db:
            expected = int(db.execute("select v from ryw where id = 1").fetchone()[0])
        token = db.commit_lsn
        with pair.standby_conn() as standby:
            try:
                for op in ops:
                    if op == "write":
                        with warden.session(actor="writer") as db:
                            row = db.execute("update ryw set v = v + 1 returning v").fetchone()
                            expected = int(row[0])
                        token = db.commit_lsn
                    elif op == "read":
                        assert read(token, through_read) == expected
                    elif op == "pause":
                        standby.execute("select pg_wal_replay_pause()")
                    else:
                        standby.execute("select pg_wal_replay_resume()")
            finally:
                standby.execute("select pg_wal_replay_resume()")

    run()
    # Not vacuous: reads were served by the replica after writes, and by the primary while it
    # had not replayed them.
    assert served["replica"] > 5 and served["primary"] > 0, served


SCHEMA = """
create table docs (id bigserial primary key, org_id bigint not null, body text);
insert into docs (org_id, body) values (1, 'one'), (1, 'one again'), (2, 'two');
create role app login;
grant select on docs to app;
"""


def test_the_signed_tenant_holds_on_the_replica(pair: Pair) -> None:
    with psycopg.connect(pair.primary_url(), autocommit=True) as conn:
        conn.execute(SCHEMA)
    owner = Warden(
        pair.primary_url(),
        spec=parse_spec('[tables."public.docs"]\ntenancy = { column = "org_id" }\n'),
    )
    try:
        owner.apply()
        key = owner.tenant_key
    finally:
        owner.close()
    assert key
    pair.caught_up()
    app = Warden(
        pair.primary_url("app"),
        spec=parse_spec('[database]\nreplica_check = "100ms"\n'),
        replicas=[pair.standby_url("app")],
        tenant_key=key,
    )
    try:
        until(lambda: app.read(lambda s: s.server != "primary"), 10, "never on the replica")
        # Several transactions per connection: where the verifier is in C, from the third
        # the MAC is bound to the standby backend's sequence and goes with BEGIN.
        for _ in range(5):
            with app.session(readonly=True, tenant="1", actor="user:1") as r:
                assert r.server != "primary"
                rows = r.execute("select org_id, body from docs order by id").fetchall()
                assert rows == [(1, "one"), (1, "one again")]
                mac = r.execute("select current_setting('pgwarden.tenant_mac')").fetchone()[0]
                binding = r.binding
        assert binding is not None
        if not os.environ.get("PGWARDEN_TEST_DSN"):
            # PostgreSQL 18 here has the C verifier: on the standby too, the MAC was bound to
            # the backend's sequence and went with BEGIN (PostgreSQL 15's is in SQL).
            assert binding.sequence is not None
        with app.session(readonly=True) as r:  # no tenant: nothing
            assert r.server != "primary"
            assert r.execute("select count(*) from docs").fetchone() == (0,)
    finally:
        app.close()
    # Attacks on the standby itself, as the application role.
    with psycopg.connect(pair.standby_url("app")) as conn:
        forged = [
            ("2", ""),  # a claim without a MAC
            ("2", secrets.token_hex(32)),  # a made-up MAC
            ("1", mac),  # a MAC of an earlier transaction, replayed
        ]
        for tenant, claimed_mac in forged:
            with conn.transaction():
                conn.execute(
                    "select set_config('pgwarden.tenant', %s, true),"
                    " set_config('pgwarden.tenant_mac', %s, true)",
                    (tenant, claimed_mac),
                )
                assert conn.execute("select count(*) from docs").fetchone() == (0,)
        conn.execute("set pgwarden.tenant = '1'")  # session-wide, unsigned
        assert conn.execute("select count(*) from docs").fetchone() == (0,)
        conn.rollback()
