"""Generated node systems: owners with nodes of the seed's four features and relationships
(a ``parent`` tree, sparse ``depends_on``, the rest ``related``), written by the database in
batches (``INSERT ... SELECT``), through every trigger pgwarden keeps: audit, search vectors,
the graph's checks. Deterministic for a seed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

FEATURES = ("function-model", "knowledge-base", "event-storm", "spindle")

# Nodes i = 1..n of an owner, named from a word list; ordinals make ids reproducible.
_NODES = """
insert into nodes.nodes (node_id, owner_id, type, name, description, metadata,
                         position_x, position_y)
select md5(%(owner)s || ':' || i)::uuid, %(owner)s::uuid,
       (array['function-model','knowledge-base','event-storm','spindle'])[1 + i %% 4],
       initcap(w[1 + (i * 7) %% 40]) || ' ' || w[1 + (i * 13) %% 40] || ' ' || i,
       'the ' || w[1 + (i * 3) %% 40] || ' of ' || w[1 + (i * 11) %% 40] || ' for '
           || w[1 + (i * 17) %% 40],
       jsonb_build_object('tag', w[1 + (i * 5) %% 40]),
       (i %% 2000) - 1000, (i / 2000) %% 2000 - 1000
  from generate_series(%(lo)s::int, %(hi)s::int) i,
       (select array['order','customer','invoice','payment','shipment','product','price',
        'discount','refund','account','report','ledger','warehouse','supplier','contract',
        'policy','risk','forecast','budget','campaign','lead','ticket','incident','release',
        'feature','module','service','schema','query','index','cache','queue','event',
        'command','aggregate','domain','context','model','workflow','rule']) as words(w)
"""
# Edges of node i: a parent among earlier nodes (a tree: shallow, random), one depends_on
# for every third node (subcritical: few nodes reachable), and related edges to fill up to
# ``per_node`` (related may close cycles and is not walked).
_EDGES = """
insert into nodes.node_relationships (owner_id, source_node_id, target_node_id, relationship_type)
select %(owner)s::uuid, md5(%(owner)s || ':' || s)::uuid, md5(%(owner)s || ':' || t)::uuid, kind
  from (
    select i as s, 1 + (hashint4(i) & 2147483647) %% (i - 1) as t, 'parent' as kind
      from generate_series(greatest(%(lo)s::int, 2), %(hi)s::int) i
    union all
    select i, 1 + (hashint4(i + 7) & 2147483647) %% (i - 1), 'depends_on'
      from generate_series(greatest(%(lo)s::int, 2), %(hi)s::int) i where i %% 3 = 0
    union all
    select i, 1 + (hashint4(i * 31 + k) & 2147483647) %% %(n)s::int, 'related'
      from generate_series(%(lo)s::int, %(hi)s::int) i, generate_series(1, %(related)s::int) k
  ) e
 where s <> t
on conflict do nothing
"""


@dataclass(frozen=True)
class Generated:
    owners: int
    nodes: int
    relationships: int


def owner_id(k: int) -> uuid.UUID:
    """The generated owner number ``k``."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"pgwarden-nodes-owner-{k}")


def generate(
    url: str,
    *,
    owners: int = 10,
    nodes_per_owner: int = 1000,
    per_node: int = 3,
    batch: int = 5000,
    progress: Callable[[str, int], None] | None = None,
) -> Generated:
    """Write ``owners`` times ``nodes_per_owner`` nodes and about ``per_node`` relationships per
    node, as the installer's role (``url``), in committed batches; each batch is idempotent
    (``ON CONFLICT DO NOTHING`` on the ids the ordinals give), so an interrupted run is
    finished by running it again."""
    say = progress or (lambda _what, _n: None)
    related = max(0, per_node - 1)  # about 1.33 tree + dependency edges per node already
    nodes = edges = 0
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set pgwarden.actor = 'nodes:generate'")
        for k in range(owners):
            owner = str(owner_id(k))
            for lo in range(1, nodes_per_owner + 1, batch):
                hi = min(nodes_per_owner, lo + batch - 1)
                params = {"owner": owner, "lo": lo, "hi": hi}
                cur = conn.execute(_NODES + " on conflict do nothing", params)
                nodes += max(cur.rowcount, 0)
                say("nodes", nodes)
            conn.execute("analyze nodes.nodes")
            lo, size = 1, 500
            while lo <= nodes_per_owner:
                hi = min(nodes_per_owner, lo + size - 1)
                params2 = {"owner": owner, "lo": lo, "hi": hi, "n": nodes_per_owner,
                           "related": related}  # fmt: skip
                cur = conn.execute(_EDGES, params2)
                edges += max(cur.rowcount, 0)
                # Statistics keep up with the load: the graph trigger's walk is planned from
                # them, and a plan made on a nearly empty table scans it for every edge.
                # Batches grow with the table (a plan made at n rows holds up to about 2n),
                # so the ANALYZEs stay few.
                conn.execute("analyze nodes.node_relationships")
                say("relationships", edges)
                lo, size = hi + 1, min(batch, max(500, edges // 3))
    return Generated(owners, nodes, edges)
