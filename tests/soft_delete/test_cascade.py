"""Cascade along foreign keys, and restore that brings back exactly what a delete removed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors
from tests.soft_delete.conftest import deleted, live

from pgwarden import SoftDeleteError, Warden


def test_cascade_and_symmetric_restore(blog: Warden, conn: psycopg.Connection[Any]) -> None:
    conn.execute("delete from comments where id = 101")  # deleted on its own, first
    conn.execute("delete from users where id = 1")
    assert live(conn, "users") == [2]
    assert live(conn, "posts") == [12]
    assert live(conn, "comments") == [102]
    one = conn.execute("select deletion_id from users where id = 1").fetchone()
    shared = conn.execute("select count(*) from posts where deletion_id = %s", one).fetchone()
    assert shared == (2,)
    restored = blog.soft_delete.restore("public.users", 1, actor="admin")
    assert restored.rows == {"public.comments": 1, "public.posts": 2, "public.users": 1}
    assert live(conn, "posts") == [10, 11, 12]
    assert live(conn, "comments") == [100, 102]  # 101 was deleted separately: it stays
    assert blog.soft_delete.restore("public.users", 1).total == 0  # live already: nothing to do


def test_restrict_refuses_while_live_rows_reference(
    blog: Warden, conn: psycopg.Connection[Any]
) -> None:
    conn.execute("insert into orders values (1, 2)")
    with pytest.raises(errors.ForeignKeyViolation, match=r"live rows of public\.orders"):
        conn.execute("delete from users where id = 2")
    assert live(conn, "users") == [1, 2] and live(conn, "posts") == [10, 11, 12]


def test_live_rows_cannot_reference_deleted_ones(
    blog: Warden, conn: psycopg.Connection[Any]
) -> None:
    conn.execute("delete from posts where id = 10")
    with pytest.raises(errors.ForeignKeyViolation, match=r"deleted row of public\.posts"):
        conn.execute("insert into comments values (200, 10, 'late')")
    with pytest.raises(errors.ForeignKeyViolation):
        conn.execute("update comments set post_id = 10 where id = 102")
    # A row its parent's delete removed cannot come back alone.
    with pytest.raises(SoftDeleteError, match=r"deleted row of public\.posts"):
        blog.soft_delete.restore("public.comments", 100)
    assert deleted(conn, "comments") == [100]
    # Deleted rows may point at deleted rows.
    conn.execute("insert into comments values (201, 10, 'x', now())")
    assert blog.soft_delete.restore("public.posts", 10).total == 2  # the post and comment 100


def test_a_child_attached_while_the_parent_is_deleted_is_cascaded(
    blog: Warden, db_url: str, conn: psycopg.Connection[Any]
) -> None:
    """A child inserted in a transaction that commits while the parent's delete waits on it
    is marked by that delete: no live child under a deleted parent, whatever the timing."""
    writer = psycopg.connect(db_url)
    try:
        writer.execute("insert into comments values (300, 12, 'racing')")
        done = threading.Event()

        def delete_parent() -> None:
            with psycopg.connect(db_url, autocommit=True) as other:
                other.execute("delete from posts where id = 12")
            done.set()

        thread = threading.Thread(target=delete_parent)
        thread.start()
        assert not done.wait(0.5)  # it waits for the writer's transaction
        writer.commit()
        thread.join(10)
        assert done.is_set()
    finally:
        writer.close()
    assert deleted(conn, "comments") == [102, 300]


# -- property: random forests, random delete / restore orders ------------------------------

Tree = list[int | None]


@st.composite
def forests(draw: st.DrawFn) -> tuple[Tree, list[tuple[str, int]]]:
    size = draw(st.integers(2, 14))
    parents: Tree = [None]
    for i in range(1, size):
        parents.append(draw(st.one_of(st.none(), st.integers(0, i - 1))))
    ops = draw(
        st.lists(st.tuples(st.sampled_from(["delete", "restore", "view"]), st.integers(0, size - 1)),
                 min_size=1, max_size=25)
    )  # fmt: skip
    return parents, ops


class Model:
    """What soft delete promises, in plain Python."""

    def __init__(self, parents: Tree):
        self.parents = parents
        self.deletion: list[int | None] = [None] * len(parents)
        self.next_id = 0

    def children(self, node: int) -> list[int]:
        return [i for i, p in enumerate(self.parents) if p == node]

    def delete(self, node: int, deletion: int | None = None) -> None:
        if self.deletion[node] is not None:
            return
        if deletion is None:
            self.next_id += 1
            deletion = self.next_id
        self.deletion[node] = deletion
        for child in self.children(node):
            self.delete(child, deletion)

    def restore(self, node: int) -> bool:
        parent = self.parents[node]
        if self.deletion[node] is None:
            return True
        if parent is not None and self.deletion[parent] is not None:
            return False
        self._restore(node, self.deletion[node])
        return True

    def _restore(self, node: int, deletion: int | None) -> None:
        self.deletion[node] = None
        for child in self.children(node):
            if self.deletion[child] == deletion:
                self._restore(child, deletion)

    def live(self) -> list[int]:
        return [i for i, d in enumerate(self.deletion) if d is None]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=forests())
def test_restore_undoes_exactly_its_delete(
    case: tuple[Tree, list[tuple[str, int]]],
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
) -> None:
    parents, ops = case
    conn.execute("drop table if exists nodes cascade; drop schema if exists warden cascade")
    conn.execute(
        "create table nodes (id int primary key, parent int references nodes on delete cascade)"
    )
    warden = make_warden('[tables."public.nodes"]\nsoft_delete = true\n')
    warden.apply()
    with conn.transaction():
        for node, parent in enumerate(parents):
            conn.execute("insert into nodes (id, parent) values (%s, %s)", (node, parent))
    model = Model(parents)
    for op, node in ops:
        if op == "restore":
            allowed = model.restore(node)
            if allowed:
                warden.soft_delete.restore("public.nodes", node)
            else:
                with pytest.raises(SoftDeleteError):
                    warden.soft_delete.restore("public.nodes", node)
        else:
            model.delete(node)
            table = "nodes__live" if op == "view" else "nodes"
            conn.execute(f"delete from {table} where id = %s", (node,))
        assert live(conn, "nodes") == model.live(), (op, node)
    # Rows deleted together share their deletion number, and only they do.
    groups = conn.execute(
        "select array_agg(id order by id) from nodes where deleted_at is not null "
        "group by deletion_id order by 1"
    ).fetchall()
    expected: dict[int, list[int]] = {}
    for node, deletion in enumerate(model.deletion):
        if deletion is not None:
            expected.setdefault(deletion, []).append(node)
    assert sorted(r[0] for r in groups) == sorted(expected.values())


def test_restrict_false_lets_soft_deletes_pass_restrict_keys(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(
        "create table items (id int primary key);"
        "create table entries (id int primary key, item_id int references items on delete restrict)"
    )
    warden = make_warden('[tables."public.items"]\nsoft_delete = { restrict = false }\n')
    warden.apply()
    conn.execute("insert into items values (1); insert into entries values (10, 1)")
    conn.execute("delete from items where id = 1")  # soft: the entry still references a row
    assert deleted(conn, "items") == [1]
    # A real delete is still refused by the key itself.
    with pytest.raises(SoftDeleteError, match=r"hard delete of public\.items 1 refused"):
        warden.soft_delete.hard_delete("public.items", 1)
    assert conn.execute("select count(*) from items").fetchone() == (1,)


def test_restore_when_a_declared_table_is_missing(
    blog: Warden, conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    from tests.soft_delete.conftest import SPEC

    conn.execute("delete from users where id = 2")
    warden = make_warden(SPEC + '[tables."public.gone"]\nsoft_delete = true\n')
    assert warden.soft_delete.restore("public.users", 2).rows == {
        "public.comments": 1,
        "public.posts": 1,
        "public.users": 1,
    }
