"""Tenancy (row-level security) on pgwarden: what a tenant's query, a write and the signed
context cost, against the same work done by the table owner with an explicit WHERE.

    .venv/bin/python bench/tenancy.py [--dsn URL] [--rows N] [--samples S]

For 10 and for 10,000 tenants over ``--rows`` rows (1M): a tenant's count of its rows and its
latest 20 rows, as the app role under the generated policies (context signed, set before the
clock starts) and as the owner with ``WHERE tenant = ...``; single-row INSERT + UPDATE
transactions both ways; and a transaction's cost with no context, an unsigned tenant, and a
signed tenant (Warden.session, interleaved). A program, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).parent))
from _common import load, machine, pgbench_tps, print_table, scratch_db, server_url, server_version
from pgwarden import Warden
from pgwarden.db import tenant_mac
from pgwarden.spec import parse_spec


def _sign(conn: psycopg.Connection[Any], key: bytes, tenant: str) -> None:
    pid, started = conn.execute(
        "select pg_backend_pid(), (extract(epoch from transaction_timestamp()) * 1000000)::bigint"
    ).fetchone()  # type: ignore[misc]
    conn.execute(
        "select set_config('pgwarden.tenant', %s, true),"
        " set_config('pgwarden.tenant_mac', %s, true)",
        (tenant, tenant_mac(key, pid, started, tenant)),
    )


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _pair(
    app: psycopg.Connection[Any],
    sign: Callable[[str], None],
    under_rls: str,
    owner: psycopg.Connection[Any],
    explicit: str,
    tenants: int,
    samples: int,
) -> tuple[float, float]:
    """Median ms of ``under_rls`` (the app role, its tenant signed first, off the clock) and
    of ``explicit`` (the owner, ``WHERE tenant = %s``), interleaved, each its own random
    tenant, which goes first alternating. Timed in two blocks, the second ran on the first
    one's warm cache; with one tenant per pair, the second read the pages the first had just
    brought in: either way the ratio measured the order (0.7x-2.1x on the same code)."""
    rls: list[float] = []
    plain: list[float] = []

    def under() -> None:
        sign(str(random.randint(1, tenants)))
        start = time.perf_counter()
        app.execute(under_rls).fetchall()
        rls.append(time.perf_counter() - start)
        app.rollback()

    def explicitly() -> None:
        start = time.perf_counter()
        owner.execute(explicit, (random.randint(1, tenants),)).fetchall()
        plain.append(time.perf_counter() - start)
        owner.rollback()

    for i in range(samples):
        for run in (under, explicitly) if i % 2 else (explicitly, under):
            run()
    return _median_ms(rls), _median_ms(plain)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    role = f"bench_app_{uuid.uuid4().hex[:6]}"
    with (
        server_url(args.dsn) as admin,
        scratch_db(admin) as url,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        try:
            _run(conn, url, role, args)
        finally:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _run(conn: psycopg.Connection[Any], url: str, role: str, args: argparse.Namespace) -> None:
    shapes = {"t10": 10, "t10k": 10_000}
    declaration = f'[roles]\napp = "{role}"\n'
    for table, tenants in shapes.items():
        conn.execute(
            sql.SQL(
                "create table {} (id bigserial primary key, tenant bigint not null, payload text);"
                "insert into {} (tenant, payload) select g % {} + 1, md5(g::text)"
                " from generate_series(1, {}) g; analyze {}"
            ).format(
                *[sql.Identifier(table)] * 2,
                sql.Literal(tenants),
                sql.Literal(args.rows),
                sql.Identifier(table),
            )
        )
        declaration += f'[tables."public.{table}"]\ntenancy = {{ column = "tenant" }}\n'
        conn.execute(
            sql.SQL("grant select, insert, update on {} to {}; grant usage on {} to {}").format(
                sql.Identifier(table),
                sql.Identifier(role),
                sql.Identifier(f"{table}_id_seq"),
                sql.Identifier(role),
            )
        )
    warden = Warden(url, spec=parse_spec(declaration, file="pgwarden.toml"))
    warden.apply()
    key = warden.tenancy.key()
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["user"] = role
    app_url = psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]
    rows = []
    with psycopg.connect(app_url) as app, psycopg.connect(url) as owner:
        for table, tenants in shapes.items():
            t = sql.Identifier(table)
            for what, rls, explicit in (
                ("count of its rows", "select count(*) from {}",
                 "select count(*) from {} where tenant = %s"),
                ("its latest 20 rows", "select * from {} order by id desc limit 20",
                 "select * from {} where tenant = %s order by id desc limit 20"),
            ):  # fmt: skip
                n = max(
                    10, args.samples // (20 if tenants == 10 and what.startswith("count") else 1)
                )
                under, plain = _pair(
                    app, lambda x: _sign(app, key, x), sql.SQL(rls).format(t).as_string(),
                    owner, sql.SQL(explicit).format(t).as_string(), tenants, n,
                )  # fmt: skip
                rows.append([f"{tenants:,} tenants: {what}", f"{under:.3f}", f"{plain:.3f}",
                             f"{under / plain:.2f}x"])  # fmt: skip
            under_w, plain_w = [], []
            for _ in range(args.samples):
                tenant = str(random.randint(1, tenants))
                for conn, sink, signed in ((app, under_w, True), (owner, plain_w, False)):
                    if signed:
                        _sign(conn, key, tenant)
                    start = time.perf_counter()
                    new = conn.execute(
                        sql.SQL(
                            "insert into {} (tenant, payload) values (%s, 'x') returning id"
                        ).format(t),
                        (int(tenant),),
                    ).fetchone()[0]  # type: ignore[index]
                    conn.execute(
                        sql.SQL("update {} set payload = 'y' where id = %s").format(t), (new,)
                    )
                    conn.commit()
                    sink.append(time.perf_counter() - start)
            under, plain = _median_ms(under_w), _median_ms(plain_w)
            rows.append([f"{tenants:,} tenants: INSERT + UPDATE + COMMIT", f"{under:.3f}",
                         f"{plain:.3f}", f"{under / plain:.2f}x"])  # fmt: skip
    signed = Warden(app_url, spec=warden.spec, tenant_key=key)
    unsigned = Warden(app_url, spec=warden.spec, tenant_key=b"\0")  # wrong key: same path
    variants = (("no context", signed, None), ("tenant, signed", signed, "7"),
                ("actor only (one round trip)", unsigned, None))  # fmt: skip
    # One row of tenant 7 by its key: the policy's InitPlan runs (and the verifier with it).
    probe = "select id from t10k where id = 6"
    found: dict[str, list[float]] = {label: [] for label, _, _ in variants}
    try:
        for n in range(args.samples * 2):  # interleaved, which goes first alternating
            for label, w, tenant in variants if n % 2 else variants[::-1]:
                start = time.perf_counter()
                with w.session(tenant=tenant, actor="bench") as db:
                    db.execute(probe).fetchall()
                found[label].append(time.perf_counter() - start)
        context = [[label, f"{_median_ms(times):.3f}"] for label, times in found.items()]
    finally:
        signed.close()
        unsigned.close()
        warden.close()
    tps = pgbench_tps(url)
    print(f"machine: {machine()}; {server_version(url)}; load {load()}; pgbench TPS {tps:,.0f}")
    print_table(f"Tenant queries and writes, {args.rows:,} rows per table (median ms)",
                ["work", "app role under RLS", "owner, explicit WHERE", "ratio"], rows)  # fmt: skip
    print_table(
        "A session transaction (one row of tenant 7 by key) through Warden.session (median ms)",
        ["context", "ms"],
        context,
    )
    print(f"\nrerun: .venv/bin/python bench/tenancy.py --rows {args.rows} --samples {args.samples}")


if __name__ == "__main__":
    main()
