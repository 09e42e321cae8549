"""Archiving deleted nodes and their relationships on this schema: the mover killed with
SIGKILL midway, many times, loses and duplicates nothing; a node moves only after its
relationships (the foreign keys hold throughout); archived rows come back by key."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from pgwarden import Warden
from pgwarden.blueprints import nodes
from pgwarden.blueprints.nodes.generate import generate

PGWARDEN = str(Path(sys.executable).parent / "pgwarden")
KILLS = 5


def _archived(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("select (select count(*) from archive.nodes__node_relationships)"
                       " + (select count(*) from archive.nodes__nodes)").fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def test_archive_killed_midway_loses_and_duplicates_nothing(
    nodes_url: str, operator: Warden, role_prefix: str, tmp_path: Path
) -> None:
    generate(nodes_url, owners=1, nodes_per_owner=1500)
    with psycopg.connect(nodes_url, autocommit=True) as conn:
        # a third of the nodes deleted (their relationships with them), 40 days ago
        conn.execute("delete from nodes.nodes where hashtext(node_id::text) % 3 = 0")
        for table in ("nodes.nodes", "nodes.node_relationships"):
            conn.execute(f"update {table} set deleted_at = deleted_at - interval '40 days'"
                         " where deleted_at is not null")  # fmt: skip
        conn.execute("create table public.shadow_n as select * from nodes.nodes")
        conn.execute("create table public.shadow_r as select * from nodes.node_relationships")
        (tmp_path / "pgwarden.toml").write_text(
            nodes.DECLARATION.read_text().replace('"nodes_', f'"{role_prefix}_')
        )
        env = {**os.environ, "PGWARDEN_DATABASE_URL": nodes_url}
        command = [PGWARDEN, "archive", "run", "--batch", "7", "--wait", "--json"]
        rnd = random.Random(3)
        killed = 0
        for _ in range(KILLS):
            mover = subprocess.Popen(command, cwd=tmp_path, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
            start = _archived(conn)
            while mover.poll() is None and _archived(conn) == start:
                time.sleep(0.005)
            time.sleep(rnd.uniform(0, 0.1))
            if mover.poll() is None:
                mover.send_signal(signal.SIGKILL)
                killed += 1
            mover.communicate()
        assert killed >= 3, "the mover finished before most kills"
        for _ in range(2):  # nodes wait for their relationships: a second run moves them
            done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
        for table, shadow, key in (("nodes", "shadow_n", "node_id"),
                                   ("node_relationships", "shadow_r", "relationship_id")):  # fmt: skip
            counts = conn.execute(
                f"select count(*), count(distinct {key}),"
                f" (select count(*) from public.{shadow}),"
                f" (select count(*) from nodes.{table}__all a full join public.{shadow} s"
                f"   using ({key}) where a.{key} is null or s.{key} is null"
                f"   or a.name_or_type is distinct from s.name_or_type)"
                f" from nodes.{table}__all".replace(
                    "name_or_type", "name" if table == "nodes" else "relationship_type"
                )
            ).fetchone()
            assert counts is not None
            total, distinct, expected, differing = counts
            assert total == distinct == expected and differing == 0, (table, counts)
        moved = conn.execute("select count(*) from archive.nodes__nodes").fetchone()
        assert moved is not None and moved[0] > 400  # every deleted node left the hot table
        assert conn.execute("select count(*) from nodes.nodes where deleted_at is not null"
                            ).fetchone() == (0,)  # fmt: skip
        # one node back from the archive, then its relationships
        row = conn.execute("select node_id from archive.nodes__nodes limit 1").fetchone()
        assert row is not None
        key = row[0]
        operator.archive.restore("nodes.nodes", key)  # type: ignore[attr-defined]
        operator.archive.restore(  # type: ignore[attr-defined]
            "nodes.node_relationships",
            # those whose other end is live (an edge between two archived nodes stays)
            where=f"(source_node_id = '{key}' and target_node_id in (select node_id from"
            f" nodes.nodes)) or (target_node_id = '{key}' and source_node_id in"
            " (select node_id from nodes.nodes))",
        )
        edges = conn.execute(
            "select count(*) from nodes.node_relationships where %s in (source_node_id,"
            " target_node_id)", (key,)).fetchone()  # fmt: skip
        expected_edges = conn.execute(
            "select count(*) from public.shadow_r where %s in (source_node_id, target_node_id)"
            " and source_node_id in (select node_id from nodes.nodes)"
            " and target_node_id in (select node_id from nodes.nodes)",
            (key,)).fetchone()  # fmt: skip
        assert edges == expected_edges
