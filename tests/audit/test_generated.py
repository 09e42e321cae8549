"""Generated columns, stored and (PostgreSQL 18) virtual, in every read of the audit trail.

A trigger sees a virtual column as NULL and logical decoding sends no generated column, so
images do not hold them reliably: every read computes them again from the image. Checked
against snapshots taken at each commit, with trigger capture and from the WAL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from pgwarden import FeatureNotApplicable, Warden

from ._support import needs_logical_wal, now


def _table(conn: psycopg.Connection[Any], *, virtual: bool = True) -> None:
    # Virtual where the server has them (18+), stored otherwise; both kinds on 18.
    kind = "virtual" if virtual and conn.info.server_version >= 180000 else "stored"
    conn.execute(
        f"""create table track (
              id int primary key,
              "Track Name" text,
              milliseconds int,
              price numeric(6, 2),
              note text,
              minutes numeric(8, 2) generated always as (round(milliseconds / 60000.0, 2)) {kind},
              label text generated always as
                  (upper("Track Name") || ' ' || coalesce(price::text, '-')) stored,
              "Kind" text generated always as ('track') {kind},
              noted text generated always as (coalesce(note, 'none')) stored
            )"""
    )


COLUMNS = 'id, "Track Name", milliseconds, price, minutes, label, "Kind"'


def _snapshot(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"select {COLUMNS} from track order by id").fetchall()


@pytest.mark.parametrize("capture", ["trigger", "wal"])
def test_generated_columns_come_back_in_every_read(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], capture: str
) -> None:
    if capture == "wal":
        needs_logical_wal(conn)
    _table(conn, virtual=capture == "trigger")  # WAL capture refuses virtual ones (below)
    conn.execute(
        """insert into track (id, "Track Name", milliseconds, price) values (1, 'a', 90000, 1)"""
    )
    warden = make_warden(
        f'[tables."public.track"]\naudit = {{ capture = "{capture}", exclude = ["note"] }}\n'
        "versioning = true\n"
    )
    warden.apply()
    steps = [
        """insert into track (id, "Track Name", milliseconds, price) values
             (2, 'b', 200000, 0.99), (3, null, null, null)""",
        "update track set milliseconds = milliseconds + 60000 where id <= 2",
        """update track set "Track Name" = 'c', price = 2.50 where id = 3""",
        "delete from track where id = 2",
        "update track set price = price * 2 where id = 1",
    ]
    commits = [(now(conn), _snapshot(conn))]
    txids = []
    for step in steps:
        with conn.transaction():
            conn.execute(step)
            txids.append(conn.execute("select pg_current_xact_id()::text::bigint").fetchone()[0])  # type: ignore[index]
        commits.append((now(conn), _snapshot(conn)))
    warden.audit.ingest()

    with conn.cursor(row_factory=dict_row) as cur:
        for at, snapshot in commits:
            got = cur.execute(
                f"select {COLUMNS} from warden.as_of(null::track, %s) order by id", (at,)
            ).fetchall()
            assert got == snapshot, f"as_of({at})"
            for row in snapshot:
                one = cur.execute(
                    f"select {COLUMNS} from warden.row_as_of(null::track, %s, %s)",
                    (f"[{row['id']}]", at),
                ).fetchall()
                assert one == [row], f"row_as_of({row['id']}, {at})"
            # The versions view: each row's version valid at that time.
            valid = cur.execute(
                f"select {COLUMNS} from track__versions where valid_from <= %s "
                "and (valid_to is null or valid_to > %s) and op <> 'delete' order by id",
                (at, at),
            ).fetchall()
            seen = {r["id"] for r in valid}
            assert valid == [r for r in snapshot if r["id"] in seen]

    # history and diff: images hold the generated values as they were.
    history = warden.audit.history("public.track", 1)
    assert [v.row["minutes"] if v.row else None for v in history] == [1.5, 2.5, 2.5]
    assert history[-1].row is not None and history[-1].row["label"] == "A 2.00"
    assert history[-1].row["Kind"] == "track"
    assert history[1].changed == ["milliseconds", "minutes"]
    assert warden.audit.diff("public.track", 1, 0) == {
        "milliseconds": (90000, 150000),
        "minutes": (1.5, 2.5),
        "price": (1, 2),
        "label": ("A 1.00", "A 2.00"),
    }
    # Reverts never write a generated column (PostgreSQL computes them).
    warden.audit.revert("public.track", 1, to=0)
    warden.audit.revert("public.track", 2, to=commits[2][0])
    warden.audit.revert_transaction(txids[2])  # 3 back to its insert: changed since? no
    warden.audit.ingest()
    expected = {r["id"]: r for r in commits[2][1]}
    expected[1] = commits[0][1][0]
    assert _snapshot(conn) == [expected[k] for k in sorted(expected)]


def test_wal_capture_refuses_a_virtual_generated_column_clearly(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """PostgreSQL 18 refuses UPDATE and DELETE of a table whose REPLICA IDENTITY FULL holds a
    column it cannot publish (a virtual one): the plan says so before anything changes."""
    if conn.info.server_version < 180000:
        pytest.skip("virtual generated columns came with PostgreSQL 18")
    needs_logical_wal(conn)
    _table(conn)
    warden = make_warden('[tables."public.track"]\naudit = { capture = "wal" }\n')
    with pytest.raises(
        FeatureNotApplicable,
        match=r'public\.track.*virtual generated column minutes, Kind.*capture = "trigger"',
    ):
        warden.plan()
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)
    conn.execute("update track set price = 1")  # still writable
