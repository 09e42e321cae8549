"""``graph``: the rules on edges, duplicate policies, and race-freedom under concurrency."""

from __future__ import annotations

import itertools
import random
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import IsolationLevel

from pgwarden import Warden
from pgwarden.errors import FeatureNotApplicable, SpecError

EDGES = """
create table nodes (id int primary key);
insert into nodes select generate_series(1, 12);
create table deps (id bigserial primary key, kind text not null default 'blocks',
                   source_id int not null references nodes, target_id int not null references nodes);
"""


@pytest.fixture
def graph(conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]) -> Warden:
    conn.execute(EDGES)
    warden = make_warden('[tables."public.deps"]\ngraph = { per = "kind" }\n')
    warden.apply()
    return warden


def test_rules_per_relationship_type(conn: psycopg.Connection[Any], graph: Warden) -> None:
    conn.execute("insert into deps (source_id, target_id) values (1, 2), (2, 3)")
    with pytest.raises(psycopg.errors.CheckViolation, match=r"cycle \(3 -> 1\)|1 -> 2 -> 3"):
        conn.execute("insert into deps (source_id, target_id) values (3, 1)")
    with pytest.raises(psycopg.errors.CheckViolation, match="self loop"):
        conn.execute("insert into deps (source_id, target_id) values (4, 4)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("insert into deps (source_id, target_id) values (1, 2)")
    # another relationship type is another graph
    conn.execute("insert into deps (kind, source_id, target_id) values ('relates', 3, 1)")
    with pytest.raises(psycopg.errors.CheckViolation, match="cycle"):
        conn.execute("update deps set kind = 'blocks' where kind = 'relates'")
    api = graph.graph  # type: ignore[attr-defined]
    assert api.reachable("deps", 1, 3, kind="blocks")
    assert not api.reachable("deps", 3, 2, kind="blocks")
    assert api.reachable("deps", 3, 2)  # over every type
    assert api.reachable_from("deps", 1, kind="blocks") == {2, 3}


def test_duplicates_ignored(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(EDGES)
    make_warden('[tables."public.deps"]\ngraph = { duplicates = "ignore" }\n').apply()
    conn.execute("insert into deps (source_id, target_id) values (1, 2), (1, 2), (2, 3)")
    rows = conn.execute("select source_id, target_id from deps order by id").fetchall()
    assert rows == [(1, 2), (2, 3)]


def test_acyclic_only_for_the_listed_types(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(EDGES)
    # a cycle of an unlisted type is no reason to refuse the declaration
    conn.execute("insert into deps (kind, source_id, target_id) values"
                 " ('relates', 1, 2), ('relates', 2, 1)")  # fmt: skip
    declared = '[tables."public.deps"]\ngraph = { per = "kind", acyclic = ["blocks"] }\n'
    make_warden(declared).apply()
    conn.execute("insert into deps (kind, source_id, target_id) values ('relates', 2, 3),"
                 " ('relates', 3, 1), ('blocks', 1, 2), ('blocks', 2, 3)")  # fmt: skip
    with pytest.raises(psycopg.errors.CheckViolation, match="cycle"):
        conn.execute("insert into deps (kind, source_id, target_id) values ('blocks', 3, 1)")
    with pytest.raises(psycopg.errors.CheckViolation, match="cycle"):
        conn.execute("update deps set kind = 'blocks' where kind = 'relates' and source_id = 3")
    with pytest.raises(psycopg.errors.CheckViolation, match="self loop"):
        conn.execute("insert into deps (kind, source_id, target_id) values ('relates', 4, 4)")


def test_acyclic_list_needs_per(make_warden: Callable[..., Warden]) -> None:
    with pytest.raises(SpecError, match="per"):
        make_warden('[tables."public.deps"]\ngraph = { acyclic = ["blocks"] }\n')


def test_existing_cycle_is_shown_by_the_plan(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(EDGES)
    conn.execute("insert into deps (source_id, target_id) values (1, 2), (2, 3), (3, 1)")
    with pytest.raises(FeatureNotApplicable, match=r"public.deps.*acyclic.*1 -> 2 -> 3 -> 1"):
        make_warden('[tables."public.deps"]\ngraph = true\n').plan()


def test_per_a_column_of_another_type_than_text(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """``per`` on a bigint (a tenant's id): the plan's look for a cycle the rows hold already
    compared it with text and failed. Each value is its own graph."""
    conn.execute(EDGES)
    conn.execute("alter table deps add column org bigint not null default 1")
    conn.execute("insert into deps (org, source_id, target_id) values (1, 1, 2), (2, 2, 1),"
                 " (4, 5, 6), (4, 6, 7), (4, 7, 5)")  # fmt: skip
    declared = '[tables."public.deps"]\ngraph = { per = "org" }\n'
    with pytest.raises(FeatureNotApplicable, match=r"acyclic.*5 -> 6 -> 7 -> 5"):
        make_warden(declared).plan()
    conn.execute("delete from deps where org = 4")
    make_warden(declared).apply()  # 1 -> 2 in one graph, 2 -> 1 in another: no cycle
    with pytest.raises(psycopg.errors.CheckViolation, match="cycle"):
        conn.execute("insert into deps (org, source_id, target_id) values (2, 1, 2)")
    conn.execute("insert into deps (org, source_id, target_id) values (3, 1, 2)")


@pytest.mark.parametrize("level", [IsolationLevel.READ_COMMITTED, IsolationLevel.REPEATABLE_READ])
def test_two_edges_closing_a_cycle_cannot_both_commit(
    db_url: str, graph: Warden, level: IsolationLevel
) -> None:
    with psycopg.connect(db_url) as t1, psycopg.connect(db_url) as t2:
        t1.isolation_level = t2.isolation_level = level
        t2.execute("select 1")  # the snapshot REPEATABLE READ keeps is taken here
        t1.execute("insert into deps (source_id, target_id) values (5, 6)")
        errors: list[Exception] = []

        def second() -> None:
            try:
                t2.execute("insert into deps (source_id, target_id) values (6, 5)")
                t2.commit()
            except psycopg.Error as exc:
                errors.append(exc)
                t2.rollback()

        waiter = threading.Thread(target=second)
        waiter.start()
        with psycopg.connect(db_url, autocommit=True) as watch:
            for _ in range(3000):  # a guard against a hang, not a timing assertion
                if watch.execute(
                    "select 1 from pg_stat_activity where datname = current_database()"
                    " and wait_event_type = 'Lock'"
                    " and query like 'insert into deps (source_id, target_id) values (6, 5)%'"
                ).fetchone():
                    break
                time.sleep(0.01)
            else:
                waiter.join()
                pytest.fail("the second session never waited for the first")
        t1.commit()
        waiter.join()
    expected = (
        psycopg.errors.CheckViolation
        if level == IsolationLevel.READ_COMMITTED
        else psycopg.errors.SerializationFailure
    )
    assert len(errors) == 1 and isinstance(errors[0], expected)


def test_many_sessions_adding_random_edges(db_url: str, graph: Warden) -> None:
    """Eight sessions add random edges at once (mixed isolation levels); afterwards the graph
    is acyclic, and each refused edge was refused for a cycle made of committed edges."""
    committed: list[tuple[int, int]] = []
    refused: list[tuple[int, int, str]] = []
    lock = threading.Lock()
    levels = [IsolationLevel.READ_COMMITTED, IsolationLevel.REPEATABLE_READ,
              IsolationLevel.SERIALIZABLE]  # fmt: skip

    def session(seed: int) -> None:
        rnd = random.Random(seed)
        with psycopg.connect(db_url) as conn:
            conn.isolation_level = levels[seed % 3]
            for _ in range(25):
                a, b = rnd.sample(range(1, 13), 2)
                for _attempt in range(50):
                    try:
                        conn.execute(
                            "insert into deps (source_id, target_id) values (%s, %s)", (a, b)
                        )
                        conn.commit()
                        with lock:
                            committed.append((a, b))
                        break
                    except psycopg.errors.SerializationFailure:
                        conn.rollback()  # RR/SERIALIZABLE: retry on a fresh snapshot
                    except (psycopg.errors.CheckViolation, psycopg.errors.UniqueViolation) as exc:
                        conn.rollback()
                        with lock:
                            refused.append((a, b, str(exc.diag.message_primary)))
                        break

    threads = [threading.Thread(target=session, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with psycopg.connect(db_url) as conn:
        final = set(conn.execute("select source_id, target_id from deps").fetchall())
    assert final == set(committed)
    # acyclic: a topological order exists
    left = set(final)
    while left:
        sinks = {a for a, _ in left} - {b for _, b in left}
        assert sinks, f"cycle among {sorted(left)}"
        left = {(a, b) for a, b in left if a not in sinks}
    cycles = [r for r in refused if "cycle" in r[2]]
    assert cycles, "no edge was refused for a cycle: the test did not exercise the check"
    for a, b, message in cycles:
        via = re.search(r"\((.*) already leads back\)", message)
        assert via, message
        trail = [int(n) for n in via.group(1).split(" -> ")]
        assert trail[0] == b and trail[-1] == a
        for step in itertools.pairwise(trail):
            assert step in final, f"refused {a}->{b} on {trail}: {step} never committed"
