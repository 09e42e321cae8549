"""``hierarchy``: paths and depths kept, cycles refused, subtree moves, reads, bad input."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgwarden import Warden
from pgwarden.errors import FeatureNotApplicable, HierarchyError

TREE = """
create table nodes (id int primary key, name text,
                    parent_id int references nodes on delete cascade);
insert into nodes values (1, 'root', null), (2, 'a', 1), (3, 'a1', 2), (4, 'a2', 2),
                         (5, 'b', 1), (6, 'b1', 5), (7, 'other root', null);
"""
DECL = '[tables."public.nodes"]\nhierarchy = { max_depth = 4 }\n'


@pytest.fixture
def tree(conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]) -> Warden:
    conn.execute(TREE)
    warden = make_warden(DECL)
    warden.apply()
    return warden


def _paths(conn: psycopg.Connection[Any]) -> dict[int, tuple[list[int], int]]:
    rows = conn.execute("select id, tree_path, tree_depth from nodes").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_existing_rows_get_paths_and_reads_work(
    conn: psycopg.Connection[Any], tree: Warden
) -> None:
    paths = _paths(conn)
    assert paths[3] == ([1, 2, 3], 2) and paths[7] == ([7], 0)
    api = tree.hierarchy  # type: ignore[attr-defined]
    assert [r["id"] for r in api.descendants("nodes", 2)] == [3, 4]
    assert [r["id"] for r in api.descendants("nodes", 2, include_self=True)] == [2, 3, 4]
    assert [r["id"] for r in api.ancestors("nodes", 6)] == [1, 5]
    assert api.path("nodes", 6) == [1, 5, 6]
    sql_rows = conn.execute("select id from warden.public_nodes__descendants(1)").fetchall()
    assert sorted(r[0] for r in sql_rows) == [2, 3, 4, 5, 6]
    assert conn.execute("select id from warden.public_nodes__ancestors(3)").fetchall() == [
        (1,),
        (2,),
    ]


def test_moving_a_subtree_in_one_statement(conn: psycopg.Connection[Any], tree: Warden) -> None:
    moved = tree.hierarchy.move("nodes", 2, 7)  # type: ignore[attr-defined]
    assert moved == 3
    paths = _paths(conn)
    assert paths[2] == ([7, 2], 1) and paths[3] == ([7, 2, 3], 2) and paths[4] == ([7, 2, 4], 2)
    conn.execute("update nodes set parent_id = null where id = 2")
    assert _paths(conn)[3] == ([2, 3], 1)
    # a path or depth written by hand is put back
    conn.execute("update nodes set tree_path = '{9}', tree_depth = 9 where id = 3")
    assert _paths(conn)[3] == ([2, 3], 1)


def test_cycles_depth_and_orphans_are_refused(conn: psycopg.Connection[Any], tree: Warden) -> None:
    api = tree.hierarchy  # type: ignore[attr-defined]
    with pytest.raises(HierarchyError, match="cycle"):
        api.move("nodes", 2, 3)
    with pytest.raises(HierarchyError, match="own parent"):
        api.move("nodes", 2, 2)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("insert into nodes values (50, 'orphan', 999)")
    conn.execute("insert into nodes values (8, 'x', 3), (9, 'y', 8)")  # depth 3, 4
    with pytest.raises(psycopg.errors.CheckViolation, match="max_depth"):
        conn.execute("insert into nodes values (10, 'too deep', 9)")
    with pytest.raises(HierarchyError, match="max_depth"):
        api.move("nodes", 2, 6)  # its subtree of height 3 under depth 2
    with pytest.raises(psycopg.errors.CheckViolation, match="key of a tree node"):
        conn.execute("update nodes set id = 100 where id = 9")
    assert _paths(conn)[2] == ([1, 2], 1)
    conn.execute("delete from nodes where id = 2")  # the key cascades
    assert sorted(_paths(conn)) == [1, 5, 6, 7]


def test_concurrent_moves_that_would_close_a_cycle(db_url: str, tree: Warden) -> None:
    # T1 moves 2 under 6 while T2 moves 5 under 3: each alone is fine, together a cycle.
    with psycopg.connect(db_url) as t1, psycopg.connect(db_url) as t2:
        t1.execute("update nodes set parent_id = 6 where id = 2")
        errors: list[Exception] = []

        def second() -> None:
            try:
                t2.execute("update nodes set parent_id = 3 where id = 5")
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
                    " and query like 'update nodes set parent_id = 3%'"
                ).fetchone():
                    break
                time.sleep(0.01)
            else:
                waiter.join()
                pytest.fail("the second session never waited for the first")
        t1.commit()
        waiter.join()
    assert errors and isinstance(
        errors[0], (psycopg.errors.CheckViolation, psycopg.errors.DeadlockDetected)
    )


@pytest.mark.parametrize(
    ("setup", "declaration", "words"),
    [
        ("", "hierarchy = { parent = 'up_id' }", ["parent", "up_id"]),
        ("alter table nodes add column boss bigint", "hierarchy = { parent = 'boss' }",
         ["boss is bigint"]),
        ("alter table nodes add column boss int", "hierarchy = { parent = 'boss' }",
         ["not a foreign key"]),
        ("update nodes set parent_id = 6 where id = 1", "hierarchy = true",
         ["cycle", "1 -> 6 -> 5 -> 1"]),
    ],
)  # fmt: skip
def test_bad_declarations_are_refused_at_plan_time(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    setup: str,
    declaration: str,
    words: list[str],
) -> None:
    conn.execute(TREE)
    if setup:
        conn.execute(setup)
    with pytest.raises(FeatureNotApplicable) as err:
        make_warden(f'[tables."public.nodes"]\n{declaration}\n').plan()
    assert "public.nodes" in str(err.value)
    for word in words:
        assert word in str(err.value)
