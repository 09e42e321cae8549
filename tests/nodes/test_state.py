"""A state machine over random node and relationship operations, against a model: soft
delete + restore round-trips exactly (relationships included), no live relationship touches
a deleted node, acyclic types stay acyclic (the graph walk counts unlinked edges too, so a
restore can never close a cycle)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pgwarden.blueprints.nodes.services import Nodes, NodesError

KINDS = ("parent", "depends_on", "related")
ACYCLIC = ("parent", "depends_on")


@dataclass
class Edge:
    key: uuid.UUID
    source: int
    target: int
    kind: str
    deleted_by: int | None = None  # None: live; -1: unlinked; n: with node n's delete


@dataclass
class Model:
    nodes: dict[int, uuid.UUID] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    edges: list[Edge] = field(default_factory=list)

    def reaches(self, start: int, goal: int, kind: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            n = todo.pop()
            if n == goal:
                return True
            if n not in seen:
                seen.add(n)
                todo.extend(e.target for e in self.edges if e.kind == kind and e.source == n)
        return False


def machine(app: Nodes) -> type[RuleBasedStateMachine]:
    class Graph(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.owner = uuid.uuid4()
            self.m = Model()
            self.snapshots: dict[int, Any] = {}

        def _refused(self, call: Any) -> bool:
            try:
                call()
            except NodesError:
                return True
            return False

        @rule()
        def create(self) -> None:
            n = len(self.m.nodes)
            made = app.graph.create_node(self.owner, {"type": "spindle", "name": f"n{n}"})
            self.m.nodes[n] = made["node_id"]

        @rule(s=st.integers(0, 5), t=st.integers(0, 5), kind=st.sampled_from(KINDS))
        def link(self, s: int, t: int, kind: str) -> None:
            m = self.m
            if s not in m.nodes or t not in m.nodes:
                return
            expect_ok = (
                s != t
                and s not in m.deleted
                and t not in m.deleted
                and not any(e.source == s and e.target == t and e.kind == kind
                            and e.deleted_by is None for e in m.edges)
                and not (kind in ACYCLIC and m.reaches(t, s, kind))
            )  # fmt: skip
            try:
                made = app.graph.link(self.owner, m.nodes[s], m.nodes[t], kind)
            except NodesError:
                assert not expect_ok, (s, t, kind)
                return
            assert expect_ok, (s, t, kind)
            m.edges.append(Edge(made["relationship_id"], s, t, kind))

        @rule(i=st.integers(0, 20))
        def unlink(self, i: int) -> None:
            live = [e for e in self.m.edges if e.deleted_by is None]
            if not live:
                return
            edge = live[i % len(live)]
            app.graph.unlink(self.owner, edge.key)
            edge.deleted_by = -1

        @rule(n=st.integers(0, 5))
        def delete(self, n: int) -> None:
            m = self.m
            if n not in m.nodes or n in m.deleted:
                return
            self.snapshots[n] = self._state(n)
            took = app.graph.delete_node(self.owner, m.nodes[n])
            mine = [e for e in m.edges if e.deleted_by is None and n in (e.source, e.target)]
            assert took == len(mine)
            for e in mine:
                e.deleted_by = n
            m.deleted.add(n)

        @rule(n=st.integers(0, 5))
        def restore(self, n: int) -> None:
            m = self.m
            if n not in m.deleted:
                return
            group = [e for e in m.edges if e.deleted_by == n]
            blocked = any({e.source, e.target} - {n} & m.deleted for e in group)
            refused = self._refused(lambda: app.graph.restore_node(self.owner, m.nodes[n]))
            assert refused == blocked, (n, blocked)
            if refused:
                return
            m.deleted.discard(n)
            for e in group:
                e.deleted_by = None
            before = self.snapshots.pop(n)
            assert self._state(n) == before  # the round trip is exact

        @rule(i=st.integers(0, 20))
        def restore_edge(self, i: int) -> None:
            m = self.m
            gone = [e for e in m.edges if e.deleted_by == -1]
            if not gone:
                return
            e = gone[i % len(gone)]
            blocked = e.source in m.deleted or e.target in m.deleted or any(
                o.source == e.source and o.target == e.target and o.kind == e.kind
                and o.deleted_by is None for o in m.edges)  # fmt: skip
            refused = self._refused(lambda: app.graph.restore_relationship(self.owner, e.key))
            assert refused == blocked
            if not refused:
                e.deleted_by = None

        def _state(self, n: int) -> Any:
            node = app.graph.node(self.owner, self.m.nodes[n])
            neighbours = sorted(str(x["relationship_id"]) for x in node.pop("neighbours"))
            node.pop("updated_at")
            return node, neighbours

        @invariant()
        def matches_the_model(self) -> None:
            m = self.m
            live = {n["node_id"] for n in app.graph.nodes(self.owner, limit=500)}
            assert live == {k for n, k in m.nodes.items() if n not in m.deleted}
            seen = set()
            for n in m.nodes:
                if n in m.deleted:
                    continue
                for x in app.graph.node(self.owner, m.nodes[n])["neighbours"]:
                    assert x["node_id"] in live  # no live edge touches a deleted node
                    seen.add(x["relationship_id"])
            assert seen == {e.key for e in m.edges if e.deleted_by is None}

    return Graph


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_random_operations_keep_the_graph_whole(app: Nodes) -> None:
    test = machine(app)
    test.TestCase.settings = settings(
        max_examples=30, stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.too_slow], derandomize=True,
    )  # fmt: skip
    test.TestCase().runTest()
