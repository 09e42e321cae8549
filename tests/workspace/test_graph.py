"""Task dependencies under random insertions and deletions (hypothesis): the graph stays
acyclic, a refused edge changes nothing, and "what blocks" / "what unblocks" equal a Python
reachability model; two organizations' graphs never mix."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgwarden.blueprints.workspace.services import Caller, Conflict, Invalid, Workspace

N = 7


def _reach(edges: set[tuple[int, int]], start: int) -> set[int]:
    seen: set[int] = set()
    todo = [start]
    while todo:
        node = todo.pop()
        for a, b in edges:
            if a == node and b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


Op = tuple[str, int, int]
ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "add", "remove"]),
        st.integers(0, N - 1),
        st.integers(0, N - 1),
    ),
    min_size=1,
    max_size=25,
)


def test_random_edges_match_a_reachability_model(app: Workspace) -> None:
    org_ids = []
    for slug in ("graph-a", "graph-b"):
        org, owner, _ = app.orgs.create(slug, slug, f"o@{slug}.test", "O")
        org_ids.append(Caller(org["organization_id"], owner["user_id"]))
    me, other = org_ids
    tasks = [app.tasks.create(me, f"t{i}")["task_id"] for i in range(N)]
    theirs = [app.tasks.create(other, f"u{i}")["task_id"] for i in range(2)]
    app.dependencies.add(other, theirs[0], theirs[1])

    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(ops)
    def run(sequence: list[Op]) -> None:
        model: set[tuple[int, int]] = set()
        for kind, i, j in sequence:
            a, b = tasks[i], tasks[j]
            if kind == "remove":
                if (a, b) in model:
                    app.dependencies.remove(me, a, b)
                    model.discard((a, b))
                continue
            closes = a == b or a in _reach(model, b) or (a, b) in model
            try:
                app.dependencies.add(me, a, b)
            except (Conflict, Invalid):
                assert closes, f"{a} -> {b} refused, yet the model allows it"
            else:
                assert not closes, f"{a} -> {b} accepted, yet it closes a cycle"
                model.add((a, b))
        for t in tasks:
            blockers = {r["task_id"] for r in app.dependencies.blockers(me, t, open_only=False)}
            assert blockers == _reach(model, t)
            assert t not in blockers  # acyclic
            reverse = {(b, a) for a, b in model}
            unblocks = {r["task_id"] for r in app.dependencies.unblocks(me, t, open_only=False)}
            assert unblocks == _reach(reverse, t)
        for a, b in model:  # clean up for the next example
            app.dependencies.remove(me, a, b)
        # the other organization's graph is untouched, and never visible here
        assert [r["task_id"] for r in app.dependencies.blockers(other, theirs[0])] == [theirs[1]]
        assert app.dependencies.blockers(me, theirs[0]) == []

    run()
