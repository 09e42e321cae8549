"""The nodes blueprint (seed 000): the cost of pgwarden's features on its hot paths.

Two databases with the same generated node system: **features** (the blueprint installed:
audit, versioning, soft delete, graph checks, search, tenancy; requests through the service
layer as the app role with a signed tenant) and **plain** (the same tables and indexes from
the migration, nothing declared; the same statements on a superuser connection, search by an
expression GIN index and a trigram index). p50 / p95 of: get a node with its neighbours, a
2-hop traversal, search top-10 (full text and a typo), create a node and link it; on the
features' database both through the services and by the plain side's raw statements as a
superuser (the triggers' cost apart from the session's). Prints pgbench TPS beside.

    python bench/nodes.py [--dsn URL] [--owners 4] [--per-owner 5000] [--samples 300]
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from _common import (
    load,
    machine,
    percentile,
    pgbench_tps,
    print_table,
    scratch_db,
    server_url,
)
from pgwarden.blueprints import nodes
from pgwarden.blueprints.nodes import _migrate
from pgwarden.blueprints.nodes.generate import generate, owner_id
from pgwarden.blueprints.nodes.services import Nodes
from pgwarden.blueprints.nodes.services.graph import _NEIGHBOURS, _NODE, _TRAVERSE

PLAIN_SEARCH = """
create extension if not exists pg_trgm;
create index nodes_fts on nodes.nodes using gin (
    to_tsvector('english', name || ' ' || description || ' ' || metadata::text));
create index nodes_name_trgm on nodes.nodes using gin (name gin_trgm_ops);
analyze;
"""
FTS = """
select node_id, name, ts_rank(v, q) as rank, ts_headline('english', name, q) as headline
  from (select node_id, name,
               to_tsvector('english', name || ' ' || description || ' ' || metadata::text) v
          from nodes.nodes where owner_id = %(o)s and deleted_at is null) n,
       websearch_to_tsquery('english', %(q)s) q
 where v @@ q order by rank desc limit 10
"""
FTS_INDEXED = """
select node_id, name, ts_rank(to_tsvector('english', name || ' ' || description || ' '
       || metadata::text), q) as rank from nodes.nodes, websearch_to_tsquery('english', %(q)s) q
 where to_tsvector('english', name || ' ' || description || ' ' || metadata::text) @@ q
   and owner_id = %(o)s and deleted_at is null order by rank desc limit 10
"""
FUZZY = """
select node_id, name, word_similarity(%(q)s, name) as sim from nodes.nodes
 where %(q)s <%% name and owner_id = %(o)s and deleted_at is null
 order by sim desc limit 10
"""


WORDS = ["order", "invoice payment", "ledger"]
TYPOS = ["ordr", "invioce", "ledgr"]
Ops = dict[str, Callable[[], Any]]


def timed(fn: Callable[[], Any], samples: int) -> tuple[float, float]:
    took = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        took.append((time.perf_counter() - start) * 1000)
    return percentile(took, 50), percentile(took, 95)


def node_ids(url: str, owner: uuid.UUID, n: int) -> list[uuid.UUID]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select node_id from nodes.nodes where owner_id = %s order by"
                            " node_id limit %s", (owner, n)).fetchall()  # fmt: skip
    return [r[0] for r in rows]


def features_ops(app: Nodes, owner: uuid.UUID, ids: list[uuid.UUID]) -> Ops:
    rnd = random.Random(1)
    g, i = app.graph, app.insight
    made = iter(range(10**9))

    def create_link() -> None:
        new = g.create_node(owner, {"type": "spindle", "name": f"bench {next(made)}"})
        g.link(owner, rnd.choice(ids), new["node_id"], "related")

    return {
        "get node + neighbours": lambda: g.node(owner, rnd.choice(ids)),
        "2-hop traversal": lambda: g.traverse(owner, rnd.choice(ids), depth=2),
        "search top-10 (full text)": lambda: i.search(owner, rnd.choice(WORDS)),
        "search top-10 (typo, fuzzy)": lambda: i.search(owner, rnd.choice(TYPOS)),
        "create node + link": create_link,
    }  # fmt: skip


# The features' database read and written by the same raw statements as a superuser (no
# service layer, no signed context, no RLS): what the triggers and the search function cost.
WARDEN_SEARCH = "select * from warden.nodes_nodes__search(%(q)s, 10, 0)"


def plain_ops(
    conn: psycopg.Connection[Any], owner: uuid.UUID, ids: list[uuid.UUID], *, warden: bool
) -> Ops:
    rnd = random.Random(1)
    made = iter(range(10**9))

    def tx(query: Any, params: Any) -> Any:
        with conn.transaction():
            return conn.execute(query, params).fetchall()

    def get() -> None:
        key = rnd.choice(ids)
        with conn.transaction():
            conn.execute(_NODE, (key,)).fetchall()
            conn.execute(_NEIGHBOURS, {"id": key}).fetchall()

    def create_link() -> None:
        with conn.transaction():
            new = conn.execute("insert into nodes.nodes (owner_id, type, name) values"
                               " (%s, 'spindle', %s) returning node_id",
                               (owner, f"bench raw {next(made)}")).fetchone()  # fmt: skip
        assert new is not None
        tx("insert into nodes.node_relationships (owner_id, source_node_id, target_node_id,"
           " relationship_type) values (%s, %s, %s, 'related') returning relationship_id",
           (owner, rnd.choice(ids), new[0]))  # fmt: skip

    return {
        "get node + neighbours": get,
        "2-hop traversal": lambda: tx(_TRAVERSE, {"id": rnd.choice(ids), "depth": 2, "type": None}),
        "search top-10 (full text)": lambda: tx(WARDEN_SEARCH if warden else FTS_INDEXED,
                                                {"o": owner, "q": rnd.choice(WORDS)}),
        "search top-10 (typo, fuzzy)": lambda: tx(WARDEN_SEARCH if warden else FUZZY,
                                                  {"o": owner, "q": rnd.choice(TYPOS)}),
        "create node + link": create_link,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="a server to measure on (default: an embedded one)")
    parser.add_argument("--owners", type=int, default=4)
    parser.add_argument("--per-owner", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    with server_url(args.dsn) as admin:
        print(f"# {machine()}; load {load()}")
        with scratch_db(admin) as feat, scratch_db(admin) as plain:
            nodes.install(feat).close()
            _migrate.upgrade(plain)
            loaded = {}
            for name, url in (("features", feat), ("plain", plain)):
                start = time.monotonic()
                done = generate(url, owners=args.owners, nodes_per_owner=args.per_owner)
                loaded[name] = (time.monotonic() - start, done)
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(PLAIN_SEARCH)
            # As autovacuum would after a load: the bulk-loaded GIN indexes of the features
            # (search, trigrams) hold their new entries in a pending list until a VACUUM,
            # which every search would scan (the plain side built its indexes after loading).
            for url in (feat, plain):
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("vacuum analyze")
            owner = owner_id(0)
            ids = node_ids(feat, owner, 2000)
            app = Nodes(nodes.app_warden(feat, pool_size=2))
            with (
                psycopg.connect(plain, autocommit=True) as pconn,
                psycopg.connect(feat, autocommit=True) as rconn,
            ):
                f_ops = features_ops(app, owner, ids)
                p_ops = plain_ops(pconn, owner, ids, warden=False)
                r_ops = plain_ops(rconn, owner, ids, warden=True)
                rows = []
                for op in f_ops:
                    for ops in (p_ops, r_ops, f_ops):
                        timed(ops[op], 20)  # warm
                    p50, p95 = timed(p_ops[op], args.samples)
                    r50, r95 = timed(r_ops[op], args.samples)
                    f50, f95 = timed(f_ops[op], args.samples)
                    rows.append([op, f"{p50:.2f}", f"{p95:.2f}", f"{r50:.2f}", f"{r95:.2f}",
                                 f"{f50:.2f}", f"{f95:.2f}", f"{f95 / p95:.1f}x"])  # fmt: skip
            app.warden.close()
            f_took, f_done = loaded["features"]
            p_took, _ = loaded["plain"]
            print(f"# {f_done.nodes:,} nodes, {f_done.relationships:,} relationships per database"
                  f" ({args.owners} owners); generated in {p_took:.1f}s plain,"
                  f" {f_took:.1f}s with the features")  # fmt: skip
            print_table(f"nodes: ms per request ({args.samples} samples; owner 0)",
                        ["operation", "plain p50", "p95", "features, raw SQL p50", "p95",
                         "features, services p50", "p95", "p95 ratio"], rows)  # fmt: skip
            with scratch_db(admin) as base:
                print(f"# pgbench baseline: {pgbench_tps(base):,.0f} TPS")


if __name__ == "__main__":
    main()
