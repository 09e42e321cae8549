"""Hypothesis state machines: random inserts, moves and deletes on a tree, and random edge
additions and removals on an acyclic graph, against a pure-Python model."""

from __future__ import annotations

from typing import Any

import psycopg
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pgwarden import Warden
from pgwarden.spec import parse_spec

MAX_DEPTH = 3
SETTINGS = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _model_path(parents: dict[int, int | None], node: int) -> list[int]:
    path = [node]
    while (up := parents[path[0]]) is not None:
        path.insert(0, up)
    return path


def _below(parents: dict[int, int | None], node: int) -> set[int]:
    return {n for n in parents if node in _model_path(parents, n)}


def test_tree_matches_the_model(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "create table t (id int primary key, parent_id int references t on delete cascade)"
        )
        spec = parse_spec('[tables."public.t"]\nhierarchy = { max_depth = 3 }\n', file="x.toml")
        with Warden(db_url, spec=spec) as warden:
            warden.apply()

        class Tree(RuleBasedStateMachine):
            @initialize()
            def empty(self) -> None:
                conn.execute("truncate t")
                self.parents: dict[int, int | None] = {}
                self.next = 1

            def _try(self, statement: str, params: tuple[Any, ...]) -> bool:
                try:
                    conn.execute(statement, params)
                    return True
                except (psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation):
                    return False

            @rule(data=st.data())
            def insert(self, data: st.DataObject) -> None:
                parent = data.draw(st.sampled_from([None, *sorted(self.parents)]))
                node, self.next = self.next, self.next + 1
                ok = self._try("insert into t values (%s, %s)", (node, parent))
                deep = parent is not None and len(_model_path(self.parents, parent)) > MAX_DEPTH
                assert ok == (not deep)
                if ok:
                    self.parents[node] = parent

            @rule(data=st.data())
            def move(self, data: st.DataObject) -> None:
                if not self.parents:
                    return
                node = data.draw(st.sampled_from(sorted(self.parents)))
                parent = data.draw(st.sampled_from([None, *sorted(self.parents)]))
                ok = self._try("update t set parent_id = %s where id = %s", (parent, node))
                subtree = _below(self.parents, node)
                height = max(len(_model_path(self.parents, n)) for n in subtree) - len(
                    _model_path(self.parents, node)
                )
                depth = 0 if parent is None else len(_model_path(self.parents, parent))
                expected = parent not in subtree and depth + height <= MAX_DEPTH
                assert ok == expected, (node, parent, self.parents)
                if ok:
                    self.parents[node] = parent

            @rule(data=st.data())
            def delete(self, data: st.DataObject) -> None:
                if not self.parents:
                    return
                node = data.draw(st.sampled_from(sorted(self.parents)))
                conn.execute("delete from t where id = %s", (node,))
                for gone in _below(self.parents, node):
                    del self.parents[gone]

            @invariant()
            def paths_and_depths_equal_the_model(self) -> None:
                rows = conn.execute("select id, parent_id, tree_path, tree_depth from t").fetchall()
                found = {r[0]: (r[1], r[2], r[3]) for r in rows}
                expected = {
                    n: (p, _model_path(self.parents, n), len(_model_path(self.parents, n)) - 1)
                    for n, p in self.parents.items()
                }
                assert found == expected

        Tree.TestCase.settings = SETTINGS
        Tree.TestCase().runTest()


def _reaches(edges: set[tuple[int, int]], start: int, goal: int) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for a, b in edges:
            if a == node and b not in seen:
                if b == goal:
                    return True
                seen.add(b)
                todo.append(b)
    return False


def test_graph_matches_the_model(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "create table e (source_id int, target_id int, primary key (source_id, target_id))"
        )
        spec = parse_spec('[tables."public.e"]\ngraph = true\n', file="x.toml")
        with Warden(db_url, spec=spec) as warden:
            warden.apply()
            api = warden.graph  # type: ignore[attr-defined]

            class Dag(RuleBasedStateMachine):
                @initialize()
                def empty(self) -> None:
                    conn.execute("truncate e")
                    self.edges: set[tuple[int, int]] = set()

                @rule(a=st.integers(1, 6), b=st.integers(1, 6))
                def add(self, a: int, b: int) -> None:
                    try:
                        conn.execute("insert into e values (%s, %s)", (a, b))
                        ok = True
                    except (psycopg.errors.CheckViolation, psycopg.errors.UniqueViolation):
                        ok = False
                    expected = (
                        a != b and (a, b) not in self.edges and not _reaches(self.edges, b, a)
                    )
                    assert ok == expected, (a, b, self.edges)
                    if ok:
                        self.edges.add((a, b))

                @rule(data=st.data())
                def remove(self, data: st.DataObject) -> None:
                    if self.edges:
                        a, b = data.draw(st.sampled_from(sorted(self.edges)))
                        conn.execute(
                            "delete from e where source_id = %s and target_id = %s", (a, b)
                        )
                        self.edges.discard((a, b))

                @rule(a=st.integers(1, 6), b=st.integers(1, 6))
                def reachability_agrees(self, a: int, b: int) -> None:
                    assert api.reachable("e", a, b) == _reaches(self.edges, a, b)

                @invariant()
                def edges_equal_the_model(self) -> None:
                    rows = conn.execute("select source_id, target_id from e").fetchall()
                    assert set(rows) == self.edges

            Dag.TestCase.settings = SETTINGS
            Dag.TestCase().runTest()
