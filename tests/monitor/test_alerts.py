"""Alerts with state, delivered to a real HTTP receiver (http.server in a thread): an alert
fires once, resolves once, survives a failed delivery, and never leaks the webhook URL;
the state machine is checked with hypothesis over arbitrary sequences of findings."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.monitor.conftest import warden_for

from pgwarden.errors import AlertDeliveryError
from pgwarden.ops.monitor import Finding, Severity
from pgwarden.ops.monitor._alerts import Alert, due, transition


class Receiver:
    """A webhook receiver: records each POSTed body; answers ``status``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                outer.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=s3cret"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _maintain(warden: Any, at: dt.datetime) -> None:
    warden.maintain(names=["monitor-alerts"], now=at)


def test_fires_once_resolves_once(
    module_db: str,
    module_conn: psycopg.Connection[Any],
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module_conn.execute("create table al (id int primary key, a int)")
    module_conn.execute("create index al_a1 on al (a); create index al_a2 on al (a)")
    monkeypatch.setenv("PGWARDEN_TEST_HOOK", receiver.url)
    toml = '[monitor.alerts]\nwebhook = "env:PGWARDEN_TEST_HOOK"\n'
    t0 = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    with warden_for(module_db, toml) as warden:
        _maintain(warden, t0)
        _maintain(warden, t0 + dt.timedelta(minutes=5))
        firing = [a for b in receiver.bodies for a in b["alerts"] if a["object"] == "public.al_a2"]
        assert [a["status"] for a in firing] == ["firing"]  # once, not per run
        assert firing[0]["check"] == "index.duplicate" and firing[0]["severity"] == "warning"
        (kept,) = [a for a in warden.monitor.alerts() if a.object == "public.al_a2"]
        assert kept.first_seen == t0 and kept.last_seen == t0 + dt.timedelta(minutes=5)
        module_conn.execute("drop index al_a2")
        _maintain(warden, t0 + dt.timedelta(minutes=10))
        _maintain(warden, t0 + dt.timedelta(minutes=15))
    events = [
        a["status"] for b in receiver.bodies for a in b["alerts"] if a["object"] == "public.al_a2"
    ]
    assert events == ["firing", "resolved"]


def test_failed_delivery_is_retried_and_the_url_never_shown(
    module_db: str, module_conn: psycopg.Connection[Any], receiver: Receiver
) -> None:
    module_conn.execute("create table bl (id int primary key, b int)")
    module_conn.execute("create index bl_b1 on bl (b); create index bl_b2 on bl (b)")
    toml = f'[monitor.alerts]\nwebhook = "{receiver.url}"\nseverity = "warning"\n'
    t0 = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    receiver.status = 500
    with warden_for(module_db, toml) as warden:
        with pytest.raises(AlertDeliveryError) as failure:
            _maintain(warden, t0)
        assert "500" in failure.value.message and "s3cret" not in str(failure.value)
        receiver.status = 200
        _maintain(warden, t0 + dt.timedelta(minutes=5))
        _maintain(warden, t0 + dt.timedelta(minutes=10))
    posted = [a for b in receiver.bodies for a in b["alerts"] if a["object"] == "public.bl_b2"]
    assert [a["status"] for a in posted] == ["firing", "firing"]  # refused once, then accepted
    assert posted[1]["first_seen"] == t0.isoformat()


def test_unset_environment_variable_is_a_clear_error(module_db: str) -> None:
    from pgwarden.errors import ConfigError

    toml = '[monitor.alerts]\nwebhook = "env:PGWARDEN_NO_SUCH_HOOK"\n'
    with warden_for(module_db, toml) as warden, pytest.raises(ConfigError) as failure:
        _maintain(warden, dt.datetime(2026, 8, 1, tzinfo=dt.UTC))
    assert "PGWARDEN_NO_SUCH_HOOK" in failure.value.message


KEYS = ["index.duplicate:a", "index.duplicate:b", "table.bloat:c"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sets(st.sampled_from(KEYS)), st.booleans()), max_size=12))
def test_state_machine_fires_and_resolves_alternately(runs: list[tuple[set[str], bool]]) -> None:
    """Whatever the sequence of findings and delivery failures: per key, what is delivered
    alternates firing / resolved starting with firing, never repeats, and the last delivered
    state matches the findings once a delivery succeeds."""
    state: dict[str, Alert] = {}
    delivered: dict[str, list[str]] = {k: [] for k in KEYS}
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for step, (present, ok) in enumerate(runs):
        now = t + dt.timedelta(minutes=step)
        findings = [
            Finding(k.split(":")[0], Severity.WARNING, k.split(":")[1]) for k in sorted(present)
        ]
        state = transition(state, findings, ["index.duplicate", "table.bloat"], now)
        if ok:
            for a in due(state):
                delivered[a.key].append(a.state)
                state[a.key] = Alert(**{**a.__dict__, "delivered": a.state})
        for k in present:
            assert state[k].state == "firing" and state[k].last_seen == now
        if ok:
            for k in KEYS:
                shown = delivered[k]
                if k in present:
                    assert shown and shown[-1] == "firing"
                elif shown:
                    assert shown[-1] == "resolved"
    for shown in delivered.values():
        assert shown == ["firing", "resolved"] * (len(shown) // 2) + ["firing"] * (len(shown) % 2)
