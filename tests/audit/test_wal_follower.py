"""The follower (``pgwarden audit ingest --follow``) under faults and odd values: killed at any
moment while writers commit, it loses and duplicates nothing; any text a row holds (NULLs,
quotes, backslashes, tabs, newlines, empty strings) is recorded as trigger capture records it;
on the server's machine it streams through the server's unix socket."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from pgwarden import Warden
from pgwarden.features.audit._wal_stream import local_url

from ._support import events, needs_logical_wal
from .test_wal_ingesters import SPEC, _stored, start_writing

_FOLLOW = (
    "import sys\nfrom pgwarden import Warden\nfrom pgwarden.spec import parse_spec\n"
    "with Warden(sys.argv[1], spec=parse_spec(sys.argv[2])) as w:\n"
    "    w.audit.follow(stop=lambda: False)\n"
)


def _wait_streaming(
    conn: psycopg.Connection[Any], follower: subprocess.Popen[bytes], before: int | None
) -> int:
    """Until the follower streams the slot (the walsender of the one killed before, ``before``,
    let go of it); the new walsender's pid."""
    for _ in range(600):
        row = conn.execute(
            "select active_pid from pg_replication_slots where database = current_database() "
            "and active and active_pid is distinct from %s",
            (before,),
        ).fetchone()
        if row is not None and follower.poll() is None:
            return int(row[0])
        time.sleep(0.05)
    raise AssertionError("the follower did not start streaming")


@pytest.mark.parametrize("seed", [1, 2])
def test_a_follower_killed_at_any_moment_loses_and_duplicates_nothing(
    conn: psycopg.Connection[Any],
    db_url: str,
    make_warden: Callable[..., Warden],
    seed: int,
) -> None:
    warden, writers = start_writing(conn, db_url, make_warden)
    rng = random.Random(seed)
    stored_by_followers = 0
    walsender: int | None = None
    try:
        for _ in range(6):
            follower = subprocess.Popen([sys.executable, "-c", _FOLLOW, db_url, SPEC])
            try:
                walsender = _wait_streaming(conn, follower, walsender)
                # Killed while it reads, stages, writes a batch or waits for the next one.
                time.sleep(rng.uniform(0.05, 1.0))
            finally:
                os.kill(follower.pid, signal.SIGKILL)
                follower.wait()
            stored = _stored(conn)
            assert {i: n for i, n in stored.items() if n != 1} == {}
            stored_by_followers = len(stored)
    finally:
        for writer in writers:
            writer.stop.set()
            writer.join()
    # The slot resends what no follower confirmed; the store skips what it has.
    warden.audit.ingest()
    committed = [i for w in writers for i, _ in w.committed]
    aborted = {i for w in writers for i in w.aborted}
    stored = _stored(conn)
    assert stored == dict.fromkeys(committed, 1)
    assert not aborted & stored.keys()
    assert stored_by_followers > 0  # the killed followers had written some of it


_TEXT = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
    st.sampled_from(['"', "\\", "\t", "\n", "\r", "", " ", '\\"', "a,b", "(x)", "NULL", "\\N"]),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=6))
def test_any_text_is_recorded_from_the_wal_as_trigger_capture_records_it(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    rows: list[tuple[str | None, str | None]],
) -> None:
    needs_logical_wal(conn)
    for name in ("by_wal", "by_trigger"):
        conn.execute(
            sql.SQL("create table if not exists {} (id int primary key, a text, b text)").format(
                sql.Identifier(name)
            )
        )
    spec = (
        '[tables."public.by_wal"]\naudit = { capture = "wal" }\n'
        '[tables."public.by_trigger"]\naudit = { capture = "trigger" }\n'
    )
    warden = make_warden(spec)
    warden.apply()
    first = conn.execute("select coalesce(max(id), 0) + 1 from by_wal").fetchone()
    assert first is not None
    ids = itertools.count(first[0])
    made = [(next(ids), a, b) for a, b in rows]
    for name in ("by_wal", "by_trigger"):
        table = sql.Identifier(name)
        with conn.transaction():
            for id_, a, b in made:
                conn.execute(
                    sql.SQL("insert into {} values (%s, %s, %s)").format(table), (id_, a, b)
                )
            # Every value moves to the other column: the old and the new image both hold it.
            conn.execute(sql.SQL("update {} set a = b, b = a").format(table))
    warden.audit.ingest()
    wanted = {i for i, _, _ in made}

    def recorded(table: str) -> list[tuple[Any, ...]]:
        return [
            (e["op"], e["row_key"], e["old_row"], e["new_row"])
            for e in events(conn, f"public.{table}")
            if e["row_key"] and e["row_key"][0] in wanted
        ]

    by_trigger = sorted(recorded("by_trigger"), key=repr)
    assert sorted(recorded("by_wal"), key=repr) == by_trigger
    assert len(by_trigger) == len(made) + sum(1 for _, a, b in made if a != b)


def test_the_follower_streams_through_the_unix_socket_of_a_server_on_this_machine(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    local = local_url(db_url)
    started = "select pg_postmaster_start_time(), current_database()"
    with psycopg.connect(local) as other:
        assert other.execute(started).fetchone() == conn.execute(started).fetchone()
    on_tcp = conn.execute("select inet_server_addr() is not null").fetchone() == (True,)
    host = psycopg.conninfo.conninfo_to_dict(local).get("host") or ""
    if not on_tcp:
        assert local == db_url  # already through a socket
        return
    try:
        directory = str(conn.execute("show unix_socket_directories").fetchone()[0])  # type: ignore[index]
        params = psycopg.conninfo.conninfo_to_dict(db_url)
        params["host"] = directory.split(",")[0].strip().strip('"')
        psycopg.connect(psycopg.conninfo.make_conninfo(**params)).close()  # type: ignore[arg-type]
    except psycopg.Error:
        assert local == db_url  # the socket refuses this role: TCP as given
    else:
        assert str(host).startswith("/") and local != db_url
