"""A feature shipped as its own package (examples/pgwarden-notify) is installed with pip and
then planned, applied, used and removed exactly like pgwarden's own: the contract suite, its
behaviour on real writes, its Python API and its CLI command group."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgwarden import Warden
from pgwarden.features import _registered, registered_features
from pgwarden.spec import parse_spec
from pgwarden.testing import ContractCase, check_feature_contract

PACKAGE = Path(__file__).parent.parent / "examples" / "pgwarden-notify"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example package installed by pip into a folder of its own, put on sys.path; the
    feature registry forgets it afterwards."""
    target = tmp_path_factory.mktemp("plugin")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--target", str(target), str(PACKAGE)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    sys.path.insert(0, str(target))
    _registered.cache_clear()
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        for name in [m for m in sys.modules if m.startswith("pgwarden_notify")]:
            del sys.modules[name]
        _registered.cache_clear()


def test_the_plugin_registers_and_keeps_the_contract(installed: Path, db_url: str) -> None:
    features = registered_features()
    assert "notify" in features and features["notify"].summary.endswith("(a plug-in package)")
    case = ContractCase(
        "notify",
        "create table orders (id int primary key, total int);"
        "create table lines (order_id int, n int, primary key (order_id, n));",
        '[tables."public.orders"]\nnotify = { channel = "orders" }\n'
        '[tables."public.lines"]\nnotify = true\n',
    )
    check_feature_contract(db_url, case, features=features)


def test_the_plugin_announces_changes_and_has_an_api_and_cli(
    installed: Path, db_url: str, conn: psycopg.Connection[object]
) -> None:
    conn.execute("create table orders (id int primary key, total int)")
    conn.execute("create table lines (order_id int, n int, primary key (order_id, n))")
    spec = parse_spec(
        '[tables."public.orders"]\nnotify = { channel = "orders" }\n'
        '[tables."public.lines"]\nnotify = { channel = "orders" }\n'
    )
    with Warden(db_url, spec=spec) as warden:
        warden.apply()
        heard: list[dict[str, object]] = []
        listening = threading.Event()

        def listen() -> None:
            # The Python API of a plug-in: warden.<name>, like pgwarden's own features.
            stream = warden.notify.listen("orders", timeout=2.0)  # type: ignore[attr-defined]
            listening.set()
            heard.extend(stream)

        thread = threading.Thread(target=listen)
        thread.start()
        listening.wait()
        with psycopg.connect(db_url, autocommit=True) as other:
            # LISTEN is issued on the generator's first step: wait until the server has it.
            for _ in range(100):
                row = other.execute(
                    "select count(*) from pg_stat_activity where datname = current_database()"
                    " and query ilike 'listen%%'"
                ).fetchone()
                if row and row[0]:
                    break
                threading.Event().wait(0.05)
            other.execute("insert into orders values (1, 10), (2, 20)")
            other.execute("update orders set total = 11 where id = 1")
            other.execute("insert into lines values (1, 1)")
            other.execute("delete from orders where id = 2")
        thread.join()
    assert heard == [
        {"table": "public.orders", "op": "insert", "key": 1},
        {"table": "public.orders", "op": "insert", "key": 2},
        {"table": "public.orders", "op": "update", "key": 1},
        {"table": "public.lines", "op": "insert", "key": [1, 1]},
        {"table": "public.orders", "op": "delete", "key": 2},
    ]

    env = {**os.environ, "PYTHONPATH": f"{installed}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    shown = subprocess.run(
        [sys.executable, "-c", "from pgwarden.cli import main; main()", "notify", "--help"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    assert "listen" in shown.stdout
    # The CLI plans the plug-in's declaration like any other: here, everything is applied.
    (installed / "pgwarden.toml").write_text(
        '[tables."public.orders"]\nnotify = { channel = "orders" }\n'
        '[tables."public.lines"]\nnotify = { channel = "orders" }\n'
    )
    planned = subprocess.run(
        [sys.executable, "-c", "from pgwarden.cli import main; main()",
         "--database-url", db_url, "plan", "--json"],
        capture_output=True, text=True, env=env, cwd=installed,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["changes"] == []
