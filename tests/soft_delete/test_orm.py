"""An ORM gets the same semantics as raw SQL: SQLAlchemy's ``session.delete()`` soft-deletes."""

from __future__ import annotations

import warnings
from typing import Any

import psycopg
import pytest
from sqlalchemy import ForeignKey, String, create_engine, select
from sqlalchemy.exc import SAWarning
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from tests.soft_delete.conftest import deleted, live

from pgwarden import Warden


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String)
    name: Mapped[str | None] = mapped_column(String)


class LivePost(Base):
    """Mapped to the live view: reads see live rows only, and deletes report their rows."""

    __tablename__ = "posts__live"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str | None] = mapped_column(String)
    user: Mapped[User] = relationship()


def _engine(db_url: str) -> Any:
    return create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(db_url))


def test_session_delete_is_a_soft_delete(
    blog: Warden, conn: psycopg.Connection[Any], db_url: str
) -> None:
    engine = _engine(db_url)
    try:
        # On the base table PostgreSQL reports no row removed (the row stays), which
        # SQLAlchemy points out; mapping to the live view avoids it (next test).
        with (
            pytest.warns(SAWarning, match="0 were matched"),
            Session(engine) as session,
            session.begin(),
        ):
            session.connection().exec_driver_sql("set local pgwarden.actor = 'orm-user'")
            session.delete(session.get(User, 2))
        assert live(conn, "users") == [1]
        assert conn.execute("select deleted_by from users where id = 2").fetchone() == ("orm-user",)
        assert deleted(conn, "posts") == [12]  # cascaded like a raw DELETE
        with Session(engine) as session:
            assert session.get(User, 2) is not None  # the base table still has it
    finally:
        engine.dispose()


def test_orm_on_the_live_view_sees_true_row_counts(
    blog: Warden, conn: psycopg.Connection[Any], db_url: str
) -> None:
    engine = _engine(db_url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # SQLAlchemy warns when a DELETE matched no row
            with Session(engine) as session, session.begin():
                post = session.get(LivePost, 10)
                assert post is not None and post.user.id == 1
                session.delete(post)
            with Session(engine) as session:
                assert session.get(LivePost, 10) is None
                titles = session.scalars(select(LivePost.title).order_by(LivePost.id)).all()
                assert titles == ["p2", "p3"]
                session.add(LivePost(id=13, user_id=2, title="via view"))
                session.commit()
        assert deleted(conn, "posts") == [10] and deleted(conn, "comments") == [100]
        assert live(conn, "posts") == [11, 12, 13]
    finally:
        engine.dispose()
