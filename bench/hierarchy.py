"""Hierarchy and graph: subtree, ancestors, subtree moves and edge inserts with the cycle
check, pgwarden's ``hierarchy`` / ``graph`` side by side with the seeds' hand-written
recursive-CTE triggers in the same run, with the machine's pgbench TPS beside them.

One scratch database. ``--nodes`` nodes in 10 groups; in each group the nodes are spread over
20 levels below the group's root, each with a random parent one level up (so a group's root
has a subtree of ``nodes / 10`` rows and the deepest nodes are at depth 20). Two copies:

  seeds  = the seeds' pattern: a BEFORE trigger checking for a cycle with a recursive CTE up
           the parents and setting ``level`` from the parent, an AFTER trigger re-levelling
           children (recursively, one statement per level); reads by recursive CTE
  warden = ``hierarchy = { parent = "parent_id" }`` (a key-array path, GIN-indexed, kept by one
           trigger; reads by the path)

and, for comparison only (hand-written here, not a pgwarden feature), two other ways to keep
the path: an ``ltree`` column with a GiST index and a hand-written move (no triggers), and a
closure table ``ct_closure (ancestor, descendant, depth)`` kept by triggers on ``ct_nodes``
(cycles refused; moves take turns on an advisory lock, as pgwarden's do).

and an edge table ``links`` (one edge per parent -> child) twice: hand-written (a trigger
walking the targets with a recursive CTE, no lock) and ``graph = true`` (the same walk after
the clock-row lock). Medians (and p95) over ``--repeat`` runs, fresh random nodes each run.

.venv/bin/python bench/hierarchy.py                    # 100,000 nodes, throwaway embedded server
.venv/bin/python bench/hierarchy.py --nodes 20000 --dsn postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import (
    load,
    machine,
    percentile,
    pgbench_tps,
    print_table,
    scratch_db,
    server_url,
    server_version,
)
from pgwarden import Warden
from pgwarden.spec import parse_spec

SPEC = """[tables."public.warden"]
hierarchy = { parent = "parent_id" }
[tables."public.warden_links"]
graph = true
"""
LEVELS = 20
TABLES = """
create table nodes_src (id int primary key, parent_id int, grp int, lvl int);
create table seeds (id int primary key, parent_id int references seeds on delete cascade,
                    level int not null default 0, name text);
create table warden (id int primary key, parent_id int references warden on delete cascade,
                     name text);
create table ct_nodes (id int primary key, parent_id int references ct_nodes on delete cascade,
                       name text);
create table seeds_links (source_id int not null, target_id int not null,
                          primary key (source_id, target_id));
create index on seeds_links (target_id);
create table warden_links (source_id int not null, target_id int not null,
                           primary key (source_id, target_id));
"""
SEEDS = """
create function seeds_check() returns trigger language plpgsql as $$
declare parent_level int;
begin
    if new.parent_id is null then new.level := 0; return new; end if;
    select level into parent_level from seeds where id = new.parent_id;
    if tg_op = 'UPDATE' and exists (
        with recursive up as (
            select id, parent_id, 1 as depth from seeds where id = new.parent_id
            union all
            select s.id, s.parent_id, up.depth + 1 from seeds s join up on s.id = up.parent_id
             where up.depth < 100)
        select 1 from up where id = new.id) then
        raise exception 'cycle';
    end if;
    new.level := parent_level + 1;
    return new;
end $$;
create trigger seeds_check before insert or update of parent_id, level on seeds
    for each row execute function seeds_check();
create function seeds_relevel() returns trigger language plpgsql as $$
begin
    update seeds set level = new.level + 1 where parent_id = new.id and level <> new.level + 1;
    return null;
end $$;
create trigger seeds_relevel after update of level on seeds for each row
    when (old.level is distinct from new.level) execute function seeds_relevel();
create index on seeds (parent_id);
create function seeds_links_check() returns trigger language plpgsql as $$
begin
    if new.source_id = new.target_id or exists (
        with recursive r(n) as (select new.target_id union
            select l.target_id from seeds_links l join r on l.source_id = r.n)
        select from r where n = new.source_id) then
        raise exception 'cycle';
    end if;
    return new;
end $$;
"""
# After the load and ANALYZE: its walk's plan is cached at the first call, and planned on an
# empty table it would scan the edges at every step.
SEEDS_LINKS_TRIGGER = """create trigger seeds_links_check before insert on seeds_links for each row
    execute function seeds_links_check()"""
LTREE = """
create extension if not exists ltree;
create table lt (id int primary key, path ltree not null);
insert into lt select id, text2ltree(array_to_string(tree_path, '.')) from warden;
create index on lt using gist (path);
create function lt_move(node int, new_parent int) returns void language sql as $$
    update lt set path = coalesce((select path from lt where id = new_parent), ''::ltree)
                         || subpath(path, nlevel((select path from lt where id = node)) - 1)
     where path <@ (select path from lt where id = node) $$;
"""
# Every (ancestor, descendant, depth) of ct_nodes, computed from the parents.
FRESH = """with recursive c(ancestor, descendant, depth) as (
    select id, id, 0 from ct_nodes
    union all
    select c.ancestor, n.id, c.depth + 1 from c join ct_nodes n on n.parent_id = c.descendant)
select * from c"""
# The closure-table alternative: one row per (ancestor, descendant) pair, the node itself at
# depth 0, so a depth-20 node has 21 rows. Filled in bulk after the load (as pgwarden's apply
# fills its paths), then kept by triggers.
CLOSURE = """
create table ct_closure (ancestor int not null, descendant int not null, depth int not null,
                         primary key (ancestor, descendant));
insert into ct_closure {FRESH};
create index on ct_closure (descendant, depth) include (ancestor);
create index on ct_nodes (parent_id);
create function ct_check() returns trigger language plpgsql as $$
begin
    if tg_op = 'UPDATE' then
        perform pg_advisory_xact_lock(hashtext('ct_nodes'));
    end if;
    if new.parent_id = new.id or exists (
        select from ct_closure where ancestor = new.id and descendant = new.parent_id) then
        raise exception 'cycle';
    end if;
    return new;
end $$;
create trigger ct_check before insert or update of parent_id on ct_nodes
    for each row execute function ct_check();
create function ct_keep() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        insert into ct_closure select new.id, new.id, 0
        union all
        select ancestor, new.id, depth + 1 from ct_closure where descendant = new.parent_id;
    elsif tg_op = 'DELETE' then
        delete from ct_closure where descendant = old.id;
    elsif old.parent_id is distinct from new.parent_id then
        -- Detach the subtree from the old ancestors, then attach it below the new parent.
        delete from ct_closure c using ct_closure up, ct_closure down
         where up.descendant = new.id and up.depth > 0 and down.ancestor = new.id
           and c.ancestor = up.ancestor and c.descendant = down.descendant;
        insert into ct_closure
        select up.ancestor, down.descendant, up.depth + down.depth + 1
          from ct_closure up, ct_closure down
         where up.descendant = new.parent_id and down.ancestor = new.id;
    end if;
    return null;
end $$;
create trigger ct_keep after insert or delete or update of parent_id on ct_nodes
    for each row execute function ct_keep();
""".replace("{FRESH}", FRESH)
CLOSURE_DIFF = """
select count(*) from ((({FRESH}) except table ct_closure) union all
                      (table ct_closure except ({FRESH}))) d
""".replace("{FRESH}", FRESH)
SUBTREE = {
    "seeds": """with recursive d as (select id from seeds where parent_id = %s
                union all select s.id from seeds s join d on s.parent_id = d.id)
                select count(*) from d""",
    "warden": "select count(*) from warden where tree_path @> array[%s::int] and id <> %s",
    "lt": "select count(*) from lt where path <@ (select path from lt where id = %s) and id <> %s",
    "ct": "select count(*) from ct_closure c join ct_nodes n on n.id = c.descendant"
    " where c.ancestor = %s and c.depth > 0",
}
ANCESTORS = {
    "seeds": """with recursive u as (select parent_id from seeds where id = %s
                union all select s.parent_id from seeds s join u on s.id = u.parent_id
                where s.parent_id is not null) select array_agg(parent_id) from u""",
    "warden": "select array_agg(a.id) from warden n join warden a on a.id = any(n.tree_path)"
    " where n.id = %s and a.id <> n.id",
    "lt": "select array_agg(a.id) from lt n join lt a on a.path @> n.path"
    " where n.id = %s and a.id <> n.id",
    "ct": "select array_agg(a.id order by c.depth desc) from ct_closure c"
    " join ct_nodes a on a.id = c.ancestor where c.descendant = %s and c.depth > 0",
}
VARIANTS = ("seeds", "warden", "lt", "ct")
MOVE = {
    "lt": "select lt_move(%s, %s)",
    # The seeds' re-levelling trigger is AFTER UPDATE OF level: it fires only when the
    # statement names level (as Kitaab's service did), not when the BEFORE trigger changes
    # it. Without `level = level` the subtree keeps stale levels.
    "seeds": "update seeds set parent_id = %s, level = level where id = %s",
    "warden": "update warden set parent_id = %s where id = %s",
    "ct": "update ct_nodes set parent_id = %s where id = %s",
}


def _nodes(nodes: int) -> list[tuple[int, int | None, int, int]]:
    """10 groups; in each, the nodes spread over LEVELS levels under the group's root, each
    with a pseudo-random parent one level up."""
    rnd = random.Random(3)
    per = nodes // 10
    found: list[tuple[int, int | None, int, int]] = [(g, None, g, 0) for g in range(1, 11)]
    next_id = 11
    for grp in range(1, 11):
        above = [grp]
        for level in range(1, LEVELS + 1):
            count = (per - 1) * level // LEVELS - (per - 1) * (level - 1) // LEVELS
            row = []
            for _ in range(count):
                found.append((next_id, rnd.choice(above), grp, level))
                row.append(next_id)
                next_id += 1
            above = row or above
    return found


def _time(conn: psycopg.Connection[Any], statement: str, params: tuple[Any, ...]) -> float:
    start = time.perf_counter()
    conn.execute(statement, params).fetchall() if statement.lstrip().startswith(
        ("select", "with")
    ) else conn.execute(statement, params)
    return (time.perf_counter() - start) * 1000


def _storage(conn: psycopg.Connection[Any]) -> list[str]:
    """Each variant's relations, indexes included: ltree's is a side table beside the nodes."""

    def mb(*tables: str) -> float:
        query = "select sum(pg_total_relation_size(t::regclass)) from unnest(%s::text[]) t"
        return float(conn.execute(query, (list(tables),)).fetchone()[0]) / 2**20  # type: ignore[index]

    return [
        f"{mb('seeds'):.1f}",
        f"{mb('warden'):.1f}",
        f"{mb('lt'):.1f} (path table; nodes extra)",
        f"{mb('ct_nodes', 'ct_closure'):.1f} (closure {mb('ct_closure'):.1f})",
    ]


def _stats(samples: list[float]) -> str:
    return f"{percentile(samples, 50):.2f} / {percentile(samples, 95):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--dsn", default=None)
    args = parser.parse_args()
    per = args.nodes // 10
    rnd = random.Random(11)
    with server_url(args.dsn) as admin, scratch_db(admin) as url:
        print(f"{server_version(url)}; {machine()}; load {load()}; {args.nodes:,} nodes")
        tps = pgbench_tps(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(TABLES.encode())
            with conn.cursor().copy("copy nodes_src from stdin") as copy:
                for row in _nodes(args.nodes):
                    copy.write_row(row)
            conn.execute(SEEDS.encode())
            setup: list[list[str]] = []
            for table in ("seeds", "warden"):
                start = time.perf_counter()
                # Parents before children, as an application would insert them.
                conn.execute(
                    f"insert into {table} (id, parent_id, name)"
                    " select id, parent_id, 'node ' || id from nodes_src order by lvl, id"
                )
                conn.execute(
                    f"insert into {table}_links select parent_id, id from nodes_src"
                    " where parent_id is not null"
                )
                setup.append([f"load {table} (rows + edges)", f"{time.perf_counter() - start:.1f}"])
            start = time.perf_counter()
            with Warden(url, spec=parse_spec(SPEC, file="pgwarden.toml")) as warden:
                warden.apply()
            setup.append(["pgwarden apply (fill paths, check edges, indexes)",
                          f"{time.perf_counter() - start:.1f}"])  # fmt: skip
            # The ltree alternative, for reads and moves only: the same paths as labels, a GiST
            # index, and a hand-written move (no triggers: what it costs at best).
            conn.execute(LTREE.encode())
            start = time.perf_counter()
            conn.execute(
                "insert into ct_nodes (id, parent_id, name)"
                " select id, parent_id, 'node ' || id from nodes_src order by lvl, id"
            )
            conn.execute(CLOSURE.encode())
            closure_rows = conn.execute("select count(*) from ct_closure").fetchone()[0]
            setup.append([f"closure table: load, fill {closure_rows:,} pairs, index, triggers",
                          f"{time.perf_counter() - start:.1f}"])  # fmt: skip
            conn.execute("vacuum analyze")
            rows = [["storage, MB (node table + tree, indexes included)", *_storage(conn)]]
            conn.execute(SEEDS_LINKS_TRIGGER)
            group = dict(conn.execute("select id, grp from nodes_src").fetchall())
            leaves = [r[0] for r in conn.execute(
                "select id from nodes_src where lvl = %s", (LEVELS,))]  # fmt: skip
            for label, queries, pick in (
                (f"subtree of a group root ({per - 1:,} nodes)", SUBTREE,
                 lambda: rnd.randint(1, 10)),
                ("ancestors of a depth-20 node", ANCESTORS, lambda: rnd.choice(leaves)),
            ):  # fmt: skip
                samples: dict[str, list[float]] = {t: [] for t in VARIANTS}
                for _ in range(args.repeat):
                    node = pick()
                    for table, query in queries.items():
                        params = (node, node) if query.count("%s") == 2 else (node,)
                        samples[table].append(_time(conn, query, params))
                rows.append([label, *(_stats(samples[t]) for t in VARIANTS)])
            # Moving a whole group (its root) under a deep node of another group, and back.
            samples = {t: [] for t in VARIANTS}
            for i in range(max(3, args.repeat // 5)):
                root = 1 + i % 10
                target = rnd.choice([n for n in leaves if group[n] != root])
                for table in VARIANTS:
                    args_ = (root, target) if table == "lt" else (target, root)
                    samples[table].append(_time(conn, MOVE[table], args_))
                    conn.execute(MOVE[table], (root, None) if table == "lt" else (None, root))
            rows.append([f"move a {per:,}-node subtree under a depth-20 node",
                         *(_stats(samples[t]) for t in VARIANTS)])  # fmt: skip
            # A depth-20 node (a leaf) under another depth-20 node: the
            # move's cycle check walks 20 levels; then back under its parent.
            # The moves above left dead rows (2 x 210,000 closure pairs per move at 100k nodes):
            # measure the small moves on vacuumed tables, as autovacuum would leave them.
            conn.execute("vacuum analyze")
            parent_of = dict(conn.execute("select id, parent_id from nodes_src").fetchall())
            samples = {t: [] for t in VARIANTS}
            for _ in range(args.repeat * 2):
                node, target = rnd.sample(leaves, 2)
                for table in VARIANTS:
                    args_ = (node, target) if table == "lt" else (target, node)
                    samples[table].append(_time(conn, MOVE[table], args_))
                    back = (node, parent_of[node]) if table == "lt" else (parent_of[node], node)
                    conn.execute(MOVE[table], back)
            rows.append(["move a depth-20 node under another (cycle check)",
                         *(_stats(samples[t]) for t in VARIANTS)])  # fmt: skip
            # One new leaf under a depth-20 node (the tree insert with its checks).
            samples = {"seeds": [], "warden": [], "ct": []}
            for i in range(args.repeat * 10):
                parent = rnd.choice(leaves)
                for table in ("seeds", "warden", "ct_nodes"):
                    samples[table.removesuffix("_nodes")].append(_time(
                        conn, f"insert into {table} (id, parent_id) values (%s, %s)",
                        (10_000_000 + i, parent)))  # fmt: skip
            rows.append(["insert a leaf at depth 21", _stats(samples["seeds"]),
                         _stats(samples["warden"]), "-", _stats(samples["ct"])])  # fmt: skip
            # An edge whose cycle check walks everything below a depth-10 node.
            mids = [r[0] for r in conn.execute("select id from nodes_src where lvl = 10")]
            samples = {"seeds": [], "warden": []}
            for _ in range(args.repeat * 10):
                source, target = rnd.choice(leaves), rnd.choice(mids)
                for table in ("seeds", "warden"):
                    statement = f"insert into {table}_links values (%s, %s)"
                    try:
                        samples[table].append(_time(conn, statement, (source, target)))
                    except psycopg.errors.RaiseException:
                        pass  # the hand-written check's cycle: not timed
                    except (psycopg.errors.CheckViolation, psycopg.errors.UniqueViolation):
                        pass
            # The closure table after every move and insert against one computed afresh: the
            # variant measured is a correct one.
            stale = conn.execute(CLOSURE_DIFF).fetchone()[0]  # type: ignore[index]
            edge = ["edge insert, cycle check below a depth-10 node"]
            rows.append([*edge, _stats(samples["seeds"]), _stats(samples["warden"]), "-", "-"])
        print_table("Latency, ms (p50 / p95)",
                    ["operation", "seeds' recursive-CTE triggers", "pgwarden hierarchy / graph",
                     "ltree + GiST (no triggers)", "closure table + triggers"],
                    rows)  # fmt: skip
        print_table("Setup", ["step", "seconds"], setup)
        print(f"\nclosure table pairs differing from a fresh computation: {stale}")
        print(f"\npgbench TPS (scale 5, 2 clients, 15 s, same server): {tps:,.0f}")


if __name__ == "__main__":
    main()
