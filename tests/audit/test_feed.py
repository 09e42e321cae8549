"""The change feed: ordered by (transaction id, event id), resumable, and never skipping an
event whose transaction commits after a later one."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from typer.testing import CliRunner

from pgwarden import Warden
from pgwarden.cli import app
from pgwarden.features.audit._runtime import Event

from ._support import applied, old_values

SPEC = '[tables."public.t"]\naudit = true\n'


def _txid(conn: psycopg.Connection[Any]) -> int:
    return int(conn.execute("select pg_current_xact_id()::text").fetchone()[0])  # type: ignore[index]


def _event_id(conn: psycopg.Connection[Any], key: int) -> int:
    row = conn.execute(
        "select max(event_id) from warden.audit_events where row_key = %s::jsonb", [f"[{key}]"]
    ).fetchone()
    assert row is not None and row[0] is not None
    return int(row[0])


def _changes(
    warden: Warden,
    after: tuple[int, int],
    count: int,
    timeout: float = 15.0,
    limit: int = 1000,
    table: str | None = None,
) -> list[Event]:
    """The feed after ``after`` once it holds ``count`` events. Any call may be held back for
    a moment by a transaction elsewhere on the server whose id the feed cannot yet rule out
    (holding back is allowed; skipping never is), so every read expecting events polls."""
    deadline = time.monotonic() + timeout
    while True:
        got = warden.audit.changes(after, limit=limit, table=table)
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_a_transaction_committing_late_is_never_skipped(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    conn.execute("create table t (id int primary key)")
    warden = applied(make_warden, SPEC)
    with psycopg.connect(db_url) as a, psycopg.connect(db_url) as b:
        # A writes first (lower txid, lower event id) but commits last.
        a.execute("insert into t values (1)")
        xa, ea = _txid(a), _event_id(a, 1)
        b.execute("insert into t values (2)")
        xb, eb = _txid(b), _event_id(b, 2)
        b.commit()
        assert xa < xb and ea < eb
        # A reader polling "event_id > last" would see B's event now, move past A's, and
        # never see it. The feed holds B back while A may still commit.
        visible = conn.execute("select event_id from warden.audit_events").fetchall()
        assert visible == [(eb,)]
        assert warden.audit.changes() == []
        a.commit()

    got = _changes(warden, (0, 0), 2)
    assert [(e.txid, e.event_id, e.key) for e in got] == [(xa, ea, [1]), (xb, eb, [2])]
    assert warden.audit.changes(got[-1].position) == []
    assert _changes(warden, got[0].position, 1) == got[1:]  # resume in the middle

    # Now the reverse: A holds the lower txid but writes (a higher event id) after B commits.
    start = got[-1].position
    with psycopg.connect(db_url) as a, psycopg.connect(db_url) as b:
        xa = _txid(a)
        b.execute("insert into t values (3)")
        xb, eb = _txid(b), _event_id(b, 3)
        b.commit()
        assert warden.audit.changes(start) == []  # A could still write below B's txid
        a.execute("insert into t values (4)")
        ea = _event_id(a, 4)
        a.commit()
    assert xa < xb and ea > eb
    got = _changes(warden, start, 2)
    assert [(e.txid, e.event_id, e.key) for e in got] == [(xa, ea, [4]), (xb, eb, [3])]
    first = _changes(warden, start, 1, limit=1)
    assert first == got[:1]
    assert _changes(warden, first[0].position, 1) == got[1:]
    assert warden.audit.changes(got[-1].position) == []
    assert [e.key for e in _changes(warden, (0, 0), 4, table="public.t")] == [[1], [2], [4], [3]]


def test_a_transaction_in_another_database_does_not_hold_back_the_feed(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], admin_url: str
) -> None:
    conn.execute("create table t (id int primary key)")
    warden = applied(make_warden, SPEC)
    with psycopg.connect(admin_url) as elsewhere:
        _txid(elsewhere)  # an open transaction with a txid, in another database
        conn.execute("insert into t values (1)")
        got = _changes(warden, (0, 0), 1, timeout=1.0)
        elsewhere.rollback()
    assert [e.key for e in got] == [[1]]


_LOCK = 7_316_004  # an advisory lock the tests below hold to pause a reader mid-statement


def _paused(
    conn: psycopg.Connection[Any], reader: psycopg.Connection[Any], query: str
) -> Callable[[], list[tuple[Any, ...]]]:
    """Start ``query`` on ``reader``; it takes the advisory lock ``_LOCK`` (its parameter)
    first, which ``conn`` holds: it has its snapshot, and waits. The function returned lets
    it go and returns its rows."""
    conn.execute("select pg_advisory_lock(%s)", [_LOCK])
    found: list[list[tuple[Any, ...]]] = []
    thread = threading.Thread(
        target=lambda: found.append(reader.execute(query, [_LOCK]).fetchall())
    )
    thread.start()
    for _ in range(600):  # a guard, not a timing: it waits as soon as it runs
        row = conn.execute(
            "select count(*) from pg_locks where pid = %s and not granted",
            [reader.info.backend_pid],
        ).fetchone()
        if row and row[0]:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the reader never waited for the lock")

    def result() -> list[tuple[Any, ...]]:
        conn.execute("select pg_advisory_unlock(%s)", [_LOCK])
        thread.join(60)
        assert found, "the reader did not finish"
        return found[0]

    return result


def test_a_transaction_of_another_database_ending_before_the_horizon_is_read_is_passed(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str, admin_url: str
) -> None:
    """pg_stat_activity is read before the horizon's snapshot: a transaction of another
    database that ended after the reading statement began is no longer in that snapshot
    (read the other way round, it was in it, no longer named, and held the horizon back)."""
    conn.execute("create table t (id int primary key)")
    applied(make_warden, SPEC)
    with (
        psycopg.connect(admin_url) as elsewhere,
        psycopg.connect(db_url, autocommit=True) as reader,
    ):
        x = _txid(elsewhere)
        result = _paused(
            conn,
            reader,
            "with l as materialized (select 1 from pg_advisory_xact_lock(%s)) "
            "select warden.running_horizon()::text::bigint from l",
        )
        elsewhere.commit()
        [(horizon,)] = result()
    assert horizon > x


def test_a_transaction_committing_while_a_reader_starts_is_never_skipped(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    """A reads first (the lower txid), B commits, then a reader's statement begins and
    waits; A commits meanwhile. The horizon then passes A: the events read must include it
    (read with the statement's older snapshot, A's event was invisible and B's position
    moved the reader past it for good)."""
    conn.execute("create table t (id int primary key)")
    warden = applied(make_warden, SPEC)
    with (
        psycopg.connect(db_url) as a,
        psycopg.connect(db_url) as b,
        psycopg.connect(db_url, autocommit=True) as reader,
    ):
        a.execute("insert into t values (1)")
        xa = _txid(a)
        b.execute("insert into t values (2)")
        xb = _txid(b)
        b.commit()
        result = _paused(
            conn,
            reader,
            "with l as materialized (select 0::bigint as e from pg_advisory_xact_lock(%s)) "
            "select c.txid::text::bigint, c.event_id from l "
            "cross join lateral warden.changes_after('0'::xid8, l.e) c",
        )
        a.commit()
        first = result()
    assert xa < xb
    after = (int(first[-1][0]), int(first[-1][1])) if first else (0, 0)
    rest = _changes(warden, after, 2 - len(first))
    assert [r[0] for r in first] + [e.txid for e in rest] == [xa, xb]


class _Lines:
    """JSON lines of a child's stdout, read with a deadline (never blocks the test)."""

    def __init__(self, proc: subprocess.Popen[bytes]):
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buffer = b""

    def next(self, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    return None
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)  # type: ignore[no-any-return]


def test_changes_follow_json_prints_new_events_and_stops_on_sigterm(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    db_url: str,
    tmp_path: Path,
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    warden = applied(make_warden, SPEC)
    with warden.session(actor="alice") as db:
        db.execute("insert into t values (1, 'a'), (2, 'b')")
    script = Path(sys.executable).with_name("pgwarden")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PGWARDEN_DATABASE_URL"] = db_url
    proc = subprocess.Popen(
        [str(script), "changes", "--follow", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        lines = _Lines(proc)
        existing = [lines.next(15), lines.next(15)]
        assert [(e and e["op"], e and e["key"], e and e["actor"]) for e in existing] == [
            ("insert", [1], "alice"),
            ("insert", [2], "alice"),
        ]
        assert existing[0] and existing[0]["new_row"] == {"id": 1, "v": "a"}
        assert lines.next(0.5) is None  # nothing more for now

        with warden.session(actor="bob", reason="live") as db:
            db.execute("update t set v = 'b2' where id = 2")
        committed = time.monotonic()
        new = lines.next(15)
        assert new is not None, "no event printed within 15 s of the commit"
        assert time.monotonic() - committed < 5
        assert (new["op"], new["key"], new["actor"], new["reason"]) == (
            "update",
            [2],
            "bob",
            "live",
        )
        assert (
            old_values(new["old_row"], new["new_row"]) == {"v": "b"}
            and new["event_id"] > existing[1]["event_id"]
        )  # type: ignore[index]

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        stderr = proc.stderr.read().decode()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()
    assert "Traceback" not in stderr


def test_changes_from_resumes_after_an_event(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    conn.execute("create table t (id int primary key)")
    conn.execute("create table u (id int primary key)")
    warden = applied(make_warden, SPEC + '[tables."public.u"]\naudit = true\n')
    for i in range(1, 4):
        conn.execute("insert into t values (%s)", [i])
        conn.execute("insert into u values (%s)", [i])
    feed = _changes(warden, (0, 0), 6)
    assert len(feed) == 6

    def cli(*args: str, least: int = 0) -> list[dict[str, Any]]:
        # The feed stops below the oldest transaction still running; on a shared server a
        # transaction of another database that starts between the horizon's read of
        # pg_stat_activity and its snapshot holds it back for that one read (conservative,
        # never a loss): a read that expects events asks again until they show (a guard).
        for _ in range(300):
            result = CliRunner().invoke(app, ["--database-url", db_url, "changes", "--json", *args])
            assert result.exit_code == 0, result.output
            found = [json.loads(line) for line in result.stdout.splitlines()]
            if len(found) >= least:
                return found
            time.sleep(0.1)
        return found

    assert [e["event_id"] for e in cli(least=6)] == [e.event_id for e in feed]
    after = cli("--from", str(feed[1].event_id), least=4)
    assert [e["event_id"] for e in after] == [e.event_id for e in feed[2:]]
    only_t = cli("--from", str(feed[1].event_id), "--table", "public.t", least=2)
    assert [(e["table"], e["key"]) for e in only_t] == [("public.t", [2]), ("public.t", [3])]
    assert cli("--from", str(feed[-1].event_id)) == []
    bad = CliRunner().invoke(app, ["--database-url", db_url, "changes", "--from", "999999"])
    assert bad.exit_code == 1
    assert "no audit event 999999" in bad.stderr
