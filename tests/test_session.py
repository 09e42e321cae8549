"""Session context (``Warden.session``) and retries (``Warden.run``) on a real server.

The context lives in transaction-local settings, so what one caller sets must never be seen by
the next borrower of the same pooled connection; ``run`` re-runs work on serialization failures
and deadlocks, and on nothing else.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors as pg_errors
from psycopg import sql

from pgwarden import Warden
from pgwarden.db import Session

READ_CONTEXT = (
    "select current_setting('pgwarden.actor', true), current_setting('pgwarden.tenant', true),"
    " current_setting('pgwarden.reason', true), current_setting('pgwarden.request_id', true)"
)
READ_ACTOR = "select current_setting('pgwarden.actor', true)"


class Boom(Exception):
    """Raised inside a session block to make it roll back."""


def _context(db: Session | psycopg.Connection[Any]) -> tuple[str | None, ...]:
    return tuple(db.execute(READ_CONTEXT).fetchone())


def _raw_actor(warden: Warden) -> str | None:
    """What a borrower of a pooled connection sees outside any session."""
    with warden.pool.connection() as c:
        return c.execute(READ_ACTOR).fetchone()[0]  # type: ignore[no-any-return]


def _alter_database(conn: psycopg.Connection[Any], setting: str, value: str) -> None:
    """A per-database default for connections opened from now on (the test owns the db)."""
    name = conn.execute("select current_database()").fetchone()[0]  # type: ignore[index]
    conn.execute(
        sql.SQL("ALTER DATABASE {} SET {} = {}").format(
            sql.Identifier(name), sql.Identifier(setting), sql.Literal(value)
        )
    )


@pytest.fixture
def log_table(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """A table whose default records the acting user, as a trigger or default would."""
    conn.execute(
        "create table log (step int primary key,"
        " actor text default current_setting('pgwarden.actor', true))"
    )
    return conn


# -- the context is visible, and only in its transaction ------------------------------------


def test_session_sets_every_setting_for_its_transaction_only(
    make_warden: Callable[..., Warden], log_table: psycopg.Connection[Any]
) -> None:
    warden = make_warden(pool_size=1)
    with warden.session(actor="u1", tenant="t1", reason="r", request_id="q") as db:
        assert _context(db) == ("u1", "t1", "r", "q")
        db.execute("insert into log (step) values (1)")
        # Still set for later statements of the same transaction.
        assert _context(db) == ("u1", "t1", "r", "q")
    # Committed, and the database itself saw the actor.
    assert log_table.execute("select step, actor from log").fetchall() == [(1, "u1")]
    # The same pooled connection, borrowed outside a session, carries nothing over.
    assert _raw_actor(warden) == ""
    with warden.session(actor="only-actor") as db:
        assert _context(db) == ("only-actor", "", "", "")
    with warden.session() as db:
        assert _context(db) == ("", "", "", "")


def test_set_local_in_a_plain_transaction_works_the_same(
    make_warden: Callable[..., Warden], log_table: psycopg.Connection[Any]
) -> None:
    conn = log_table
    with conn.transaction():
        conn.execute("SET LOCAL pgwarden.actor = 'x'")
        conn.execute("SET LOCAL pgwarden.reason = 'by hand'")
        assert _context(conn) == ("x", None, "by hand", None)
        conn.execute("insert into log (step) values (1)")
    assert conn.execute(READ_ACTOR).fetchone() == ("",)  # gone with the transaction
    with make_warden().session(actor="x") as db:
        db.execute("insert into log (step) values (2)")
    assert conn.execute("select step, actor from log order by step").fetchall() == [
        (1, "x"),
        (2, "x"),
    ]


def test_rolled_back_session_leaves_no_context_and_no_rows(
    make_warden: Callable[..., Warden], log_table: psycopg.Connection[Any]
) -> None:
    warden = make_warden(pool_size=1)
    with pytest.raises(Boom), warden.session(actor="mallory", tenant="evil") as db:
        db.execute("insert into log (step) values (1)")
        raise Boom
    assert log_table.execute("select count(*) from log").fetchone() == (0,)
    assert _raw_actor(warden) == ""
    with warden.session() as db:
        assert _context(db) == ("", "", "", "")
        db.execute("insert into log (step) values (2)")
    assert log_table.execute("select step, actor from log").fetchall() == [(2, "")]


def test_session_level_set_inside_a_session_does_not_reach_the_next_session(
    make_warden: Callable[..., Warden],
) -> None:
    # Even if work does a plain (session-level) SET, every session sets all four settings
    # locally, so the next session on that connection still sees only its own context.
    warden = make_warden(pool_size=1)
    with warden.session(actor="a") as db:
        db.execute("set pgwarden.tenant = 'sticky'")
    with warden.session(actor="b") as db:
        assert _context(db) == ("b", "", "", "")


def test_no_leak_between_threads_on_a_small_pool(make_warden: Callable[..., Warden]) -> None:
    warden = make_warden(pool_size=2)
    threads, iterations = 8, 50

    def worker(index: int) -> int:
        rng = random.Random(index)
        checked = 0
        for n in range(iterations):
            actor = rng.choice([None, f"user-{index}-{n}"])
            tenant = rng.choice([None, f"tenant-{index}"])
            expected = (actor or "", tenant or "", "", f"req-{index}-{n}")
            fail = rng.random() < 0.2
            try:
                with warden.session(actor=actor, tenant=tenant, request_id=expected[3]) as db:
                    assert _context(db) == expected
                    db.execute("select pg_sleep(0)")  # give other threads a chance to interleave
                    assert _context(db) == expected
                    checked += 1
                    if fail:
                        raise Boom
            except Boom:
                pass
            if rng.random() < 0.1:
                assert _raw_actor(warden) in ("", None)
        return checked

    with ThreadPoolExecutor(threads) as pool:
        checked = list(pool.map(worker, range(threads)))
    assert sum(checked) == threads * iterations
    assert warden.pool.get_stats()["pool_size"] <= 2


def test_pool_is_created_once_under_concurrent_first_use(
    make_warden: Callable[..., Warden],
) -> None:
    warden = make_warden(pool_size=2)
    threads = 8
    start = threading.Barrier(threads, timeout=10)

    def first_use(_: int) -> Any:
        start.wait()
        return warden.pool

    with ThreadPoolExecutor(threads) as executor:
        pools = {id(p): p for p in executor.map(first_use, range(threads))}
    try:
        # Several pools would mean up to threads * pool_size connections, all but one of the
        # pools never closed.
        assert len(pools) == 1
    finally:
        for pool in pools.values():
            if pool is not warden.pool:
                pool.close()


@pytest.fixture
def one_connection_warden(
    make_warden: Callable[..., Warden], log_table: psycopg.Connection[Any]
) -> Iterator[tuple[Warden, psycopg.Connection[Any]]]:
    yield make_warden(pool_size=1), log_table


_actors = st.one_of(
    st.none(),
    st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=12),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(st.tuples(_actors, st.booleans()), min_size=1, max_size=8))
def test_each_transaction_sees_only_its_own_context(
    one_connection_warden: tuple[Warden, psycopg.Connection[Any]],
    steps: list[tuple[str | None, bool]],
) -> None:
    # One pooled connection shared by every step (and every example): any leak shows.
    warden, conn = one_connection_warden
    conn.execute("truncate log")
    for step, (actor, fails) in enumerate(steps):
        try:
            with warden.session(actor=actor) as db:
                assert _context(db) == (actor or "", "", "", "")
                db.execute("insert into log (step) values (%s)", [step])
                if fails:
                    raise Boom
        except Boom:
            pass
        assert _raw_actor(warden) == ""
    kept = conn.execute("select step, actor from log order by step").fetchall()
    assert kept == [(i, a or "") for i, (a, fails) in enumerate(steps) if not fails]


# -- run(): retries on serialization failure and deadlock, nothing else ---------------------


@pytest.fixture
def counter(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """A counter row, and REPEATABLE READ as the database's default isolation so that a
    concurrent update makes the session's update fail with a serialization failure."""
    conn.execute("create table counter (id int primary key, v int not null)")
    conn.execute("insert into counter values (1, 0)")
    conn.execute("create table attempts (n int not null)")
    _alter_database(conn, "default_transaction_isolation", "repeatable read")
    return conn


def _conflicting_work(
    other: psycopg.Connection[Any], calls: list[str], *, conflict_on: Callable[[int], bool]
) -> Callable[[Session], int]:
    def work(db: Session) -> int:
        calls.append(db.execute(READ_ACTOR).fetchone()[0])
        assert db.execute("show transaction_isolation").fetchone() == ("repeatable read",)
        (value,) = db.execute("select v from counter where id = 1").fetchone()
        db.execute("insert into attempts values (%s)", [len(calls)])
        if conflict_on(len(calls)):
            # Someone else changes the row this transaction has read, and commits.
            other.execute("update counter set v = v + 100 where id = 1")
        db.execute("update counter set v = %s where id = 1", [value + 1])
        return int(value)

    return work


def test_run_retries_a_serialization_failure(
    make_warden: Callable[..., Warden], counter: psycopg.Connection[Any]
) -> None:
    calls: list[str] = []
    work = _conflicting_work(counter, calls, conflict_on=lambda n: n == 1)
    result = make_warden().run(work, actor="retrier", retries=3)
    # The second attempt saw the concurrent update and built on it: nothing was lost.
    assert result == 100
    assert calls == ["retrier", "retrier"]  # the context is set again for the retry
    assert counter.execute("select v from counter").fetchone() == (101,)
    # The failed attempt was rolled back entirely.
    assert counter.execute("select n from attempts").fetchall() == [(2,)]


@pytest.mark.parametrize("retries", [0, 2])
def test_run_gives_up_after_its_retries(
    make_warden: Callable[..., Warden], counter: psycopg.Connection[Any], retries: int
) -> None:
    calls: list[str] = []
    work = _conflicting_work(counter, calls, conflict_on=lambda n: True)
    with pytest.raises(pg_errors.SerializationFailure, match="concurrent update"):
        make_warden().run(work, retries=retries)
    assert len(calls) == retries + 1
    assert counter.execute("select v from counter").fetchone() == (100 * (retries + 1),)
    assert counter.execute("select count(*) from attempts").fetchone() == (0,)


def test_run_does_not_retry_other_errors(
    make_warden: Callable[..., Warden], log_table: psycopg.Connection[Any]
) -> None:
    warden = make_warden()
    calls = 0

    def work(db: Session) -> None:
        nonlocal calls
        calls += 1
        db.execute("insert into log (step) values (1)")
        db.execute("insert into log (step) values (1)")

    with pytest.raises(pg_errors.UniqueViolation):
        warden.run(work, retries=5)
    assert calls == 1
    assert log_table.execute("select count(*) from log").fetchone() == (0,)

    def not_sql(db: Session) -> None:
        nonlocal calls
        calls += 1
        raise Boom

    with pytest.raises(Boom):
        warden.run(not_sql, retries=5)
    assert calls == 2


def test_run_retries_the_deadlock_victim(
    make_warden: Callable[..., Warden], conn: psycopg.Connection[Any]
) -> None:
    conn.execute("create table acct (id int primary key, v int not null)")
    conn.execute("insert into acct values (1, 0), (2, 0)")
    _alter_database(conn, "deadlock_timeout", "100ms")
    warden = make_warden(pool_size=2)
    both_hold_first_lock = threading.Barrier(2, timeout=10)
    calls = [0, 0]

    def transfer(index: int, first: int, second: int) -> None:
        def work(db: Session) -> None:
            calls[index] += 1
            db.execute("update acct set v = v + 1 where id = %s", [first])
            if calls[index] == 1:
                both_hold_first_lock.wait()
            db.execute("update acct set v = v + 1 where id = %s", [second])

        warden.run(work, actor=f"t{index}")

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(transfer, 0, 1, 2), pool.submit(transfer, 1, 2, 1)]
        for future in futures:
            future.result(timeout=30)
    # Exactly one of them was chosen as the deadlock victim and ran again; both committed.
    assert sorted(calls) == [1, 2]
    assert conn.execute("select id, v from acct order by id").fetchall() == [(1, 2), (2, 2)]


def test_run_reraises_a_deadlock_without_retries(
    make_warden: Callable[..., Warden], conn: psycopg.Connection[Any]
) -> None:
    conn.execute("create table acct (id int primary key, v int not null)")
    conn.execute("insert into acct values (1, 0), (2, 0)")
    _alter_database(conn, "deadlock_timeout", "100ms")
    warden = make_warden(pool_size=2)
    both_hold_first_lock = threading.Barrier(2, timeout=10)

    def transfer(first: int, second: int) -> str:
        def work(db: Session) -> None:
            db.execute("update acct set v = v + 1 where id = %s", [first])
            both_hold_first_lock.wait()
            db.execute("update acct set v = v + 1 where id = %s", [second])

        try:
            warden.run(work, retries=0)
        except pg_errors.DeadlockDetected:
            return "deadlock"
        return "ok"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(lambda pair: transfer(*pair), [(1, 2), (2, 1)]))
    assert outcomes == ["deadlock", "ok"]
    # Only the winner's two increments are there.
    assert conn.execute("select sum(v) from acct").fetchone() == (2,)


# -- the asyncio twin ------------------------------------------------------------------------


def test_async_session_sets_the_context_commits_and_rolls_back(
    db_url: str, log_table: psycopg.Connection[Any]
) -> None:
    """open_async_session: the same context, for its transaction only, on an asyncio pool;
    committed when the block ends, rolled back (rows and context) when it raises."""
    import asyncio

    from psycopg_pool import AsyncConnectionPool

    from pgwarden.db import Context, open_async_session

    async def scenario() -> list[tuple[Any, ...]]:
        async with AsyncConnectionPool(db_url, min_size=1, max_size=1, open=False) as pool:
            ctx = Context(actor="a1", tenant="t1", reason="r1", request_id="q1")
            async with open_async_session(pool, ctx) as db:
                cur = await db.execute(READ_CONTEXT)
                seen = [await cur.fetchone()]
                await db.execute("insert into log (step) values (1)")
                # One transaction: the context and the row share its id.
                cur = await db.execute("select pg_current_xact_id_if_assigned() is not null")
                seen.append(await cur.fetchone())
            with pytest.raises(Boom):
                async with open_async_session(pool, Context(actor="a2")) as db:
                    await db.execute("insert into log (step) values (2)")
                    raise Boom
            async with pool.connection() as conn:  # the same (only) connection, reused
                cur = await conn.execute(READ_CONTEXT)
                seen.append(await cur.fetchone())
            return seen

    inside, in_transaction, after = asyncio.run(scenario())
    assert inside == ("a1", "t1", "r1", "q1")
    assert in_transaction == (True,)
    assert after in (("", "", "", ""), (None, None, None, None))
    assert log_table.execute("select step, actor from log").fetchall() == [(1, "a1")]


def test_run_statement_commits_one_statement_with_its_context_or_nothing(
    db_url: str, log_table: psycopg.Connection[Any]
) -> None:
    """run_statement: the context is set for the statement, its rows come back as dicts, it is
    committed; an error rolls it back and the next caller of the connection has no context."""
    from psycopg_pool import ConnectionPool

    from pgwarden.db import Context, run_statement

    with ConnectionPool(db_url, min_size=1, max_size=1) as pool:
        made = run_statement(
            pool,
            Context(actor="a1", reason="r1"),
            "insert into log (step) values (%s) returning step, actor",
            (1,),
        )
        assert made == [{"step": 1, "actor": "a1"}]
        with pytest.raises(psycopg.errors.UniqueViolation):
            run_statement(pool, Context(actor="a2"), "insert into log (step) values (1), (2)")
        after = run_statement(
            pool,
            Context(),
            "select current_setting('pgwarden.actor', true) as actor,"
            " current_setting('pgwarden.reason', true) as reason",
        )
    assert log_table.execute("select step, actor from log").fetchall() == [(1, "a1")]
    assert after[0] in ({"actor": "", "reason": ""}, {"actor": None, "reason": None})


def test_run_statement_prepares_once_and_falls_back_where_it_cannot(
    db_url: str, log_table: psycopg.Connection[Any]
) -> None:
    """The one-message path: the statement is prepared on the connection once (named and
    positional parameters, a literal percent sign), survives a DEALLOCATE ALL behind its back,
    and a connection with its own isolation level or a statement PREPARE refuses still runs,
    with its context, through the pipeline."""
    from psycopg_pool import ConnectionPool

    from pgwarden.db import Context, run_statement

    insert = (
        "insert into log (step) values (%(step)s)"
        " returning step, actor, current_setting('pgwarden.reason', true) as reason,"
        " '100%%' as pct"
    )
    with ConnectionPool(db_url, min_size=1, max_size=1) as pool:
        for step in (1, 2):
            made = run_statement(
                pool, Context(actor=f"a{step}", reason="r"), insert, {"step": step}
            )
            assert made == [{"step": step, "actor": f"a{step}", "reason": "r", "pct": "100%"}]
        with pool.connection() as conn:
            names = conn.execute(
                "select count(*) from pg_prepared_statements where name like 'pgwarden_rs_%%'"
            ).fetchone()
            assert names == (1,)
            conn.execute("deallocate all")
            conn.commit()
        made = run_statement(pool, Context(actor="a3"), "insert into log (step) values (%s)"
                             " returning actor", (3,))  # fmt: skip
        assert made == [{"actor": "a3"}]
        with pool.connection() as conn:
            conn.execute("deallocate all")  # the statement of step 3, gone: prepared again
            conn.commit()
        assert run_statement(
            pool, Context(actor="a4"), "insert into log (step) values (%s) returning actor", (4,)
        ) == [{"actor": "a4"}]
        # PREPARE cannot type $1 here (IndeterminateDatatype); the pipeline sends it typed.
        echoed = run_statement(
            pool,
            Context(actor="a5"),
            "select %s is null as v, current_setting('pgwarden.actor', true) as actor",
            (5,),
        )
        assert echoed == [{"v": False, "actor": "a5"}]
        # A statement without rows answers none.
        assert run_statement(pool, Context(actor="a6"), "insert into log (step) values (6)") == []
    with ConnectionPool(db_url, min_size=1, max_size=1, configure=_serializable) as serializable:
        made = run_statement(
            serializable,
            Context(actor="a7"),
            "insert into log (step) values (7) returning actor,"
            " current_setting('transaction_isolation') as iso",
        )
        assert made == [{"actor": "a7", "iso": "serializable"}]
    assert log_table.execute("select step, actor from log order by step").fetchall() == [
        (1, "a1"), (2, "a2"), (3, "a3"), (4, "a4"), (6, "a6"), (7, "a7"),
    ]  # fmt: skip


def _serializable(conn: psycopg.Connection[Any]) -> None:
    conn.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
