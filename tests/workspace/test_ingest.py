"""Event ingest: a redelivered webhook is stored once; a killed ingest, run again, loses and
duplicates nothing (each batch is one statement in one transaction)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time

from tests.workspace.conftest import T0, Org, scalar

from pgwarden.blueprints.workspace.services import Event, Workspace

BATCH = 500
BATCHES = 30

SCRIPT = textwrap.dedent("""
    import datetime as dt, sys, time
    from pgwarden.blueprints import workspace
    from pgwarden.blueprints.workspace.services import Caller, Event, Workspace

    url, prefix, org, slow = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "slow"
    t0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)

    def stream():
        for n in range({total}):
            if slow and n % {batch} == {batch} // 2:
                time.sleep(0.15)
            yield Event("github", f"d{{n}}", "push", t0 + dt.timedelta(seconds=n), {{"n": n}})

    app = Workspace(workspace.app_warden(url, workspace.declaration(prefix)))
    print(app.events.ingest(Caller(org, 0), stream(), batch_size={batch}), flush=True)
    app.warden.close()
""").format(total=BATCH * BATCHES, batch=BATCH)


def _run(url: str, prefix: str, org: int, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, url, prefix, str(org), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_redelivery_is_stored_once(app: Workspace, acme: Org, workspace_url: str) -> None:
    me = acme.caller
    events = [
        Event("linear", f"l{i}", "Issue.create", T0 + dt.timedelta(minutes=i), {"i": i})
        for i in range(20)
    ]
    assert app.events.ingest(me, events, batch_size=7).stored == 20
    # redelivered with another time in the payload: still the same delivery
    moved = [
        Event(e.source, e.external_id, e.event_type, T0 + dt.timedelta(days=40), {})
        for e in events[:10]
    ]
    again = app.events.ingest(me, [*moved, *events], batch_size=9)
    assert (again.received, again.stored, again.duplicates) == (30, 0, 30)
    assert scalar(workspace_url, "select count(*) from workspace.events") == 20
    # the same id from another source is another event
    assert app.events.ingest(me, [Event("slack", "l0", "message", T0, {})]).stored == 1


def test_killed_ingest_loses_and_duplicates_nothing(
    app: Workspace, acme: Org, workspace_url: str, role_prefix: str
) -> None:
    count = "select count(*) from workspace.events"
    proc = _run(workspace_url, role_prefix, acme.organization_id, "slow")
    try:
        deadline = time.monotonic() + 60
        while scalar(workspace_url, count) < 3 * BATCH:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the ingest made no progress"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    stored = scalar(workspace_url, count)
    assert 3 * BATCH <= stored < BATCH * BATCHES and stored % BATCH == 0  # whole batches only
    assert scalar(workspace_url, "select count(*) from workspace.event_deliveries") == stored

    again = _run(workspace_url, role_prefix, acme.organization_id, "fast")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    total = BATCH * BATCHES
    assert f"received={total}, stored={total - stored}, duplicates={stored}" in out
    assert scalar(workspace_url, count) == total
    assert (
        scalar(workspace_url, "select count(distinct external_id) from workspace.events") == total
    )
