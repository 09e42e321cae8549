"""Other projects' audit triggers, installed at bench time from public copies in a directory
given on the command line (nothing of theirs is in this repository):

    DIR/audit-trigger/audit.sql          2ndQuadrant's audit trigger (hstore)
    DIR/supa_audit/supa_audit--0.3.1.sql supa_audit 0.3.1 (tables with a primary key only)
    DIR/pgMemento/INSTALL_PGMEMENTO.sql  pgMemento (its src/ beside it)

Each is set up the way its README says, on the four pgbench tables.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from pgwarden.server import bin_path

PGBENCH_TABLES = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]


@dataclass(frozen=True)
class Anchor:
    key: str
    label: str
    note: str


ANCHORS = {
    "2ndq": Anchor("2ndq", "2ndQuadrant audit.sql", "audit.audit_table() on the 4 tables"),
    "supa": Anchor(
        "supa",
        "supa_audit 0.3.1",
        "audit.enable_tracking() on the 3 tables with a primary key (it refuses history)",
    ),
    "memento": Anchor("memento", "pgMemento", "pgmemento.init('public'): old values (its default)"),
}


def available(root: Path | None) -> list[Anchor]:
    if root is None:
        return []
    files = {
        "2ndq": root / "audit-trigger" / "audit.sql",
        "supa": root / "supa_audit" / "supa_audit--0.3.1.sql",
        "memento": root / "pgMemento" / "INSTALL_PGMEMENTO.sql",
    }
    return [ANCHORS[k] for k, f in files.items() if f.is_file()]


def psql(url: str, path: Path) -> None:
    done = subprocess.run(
        [str(bin_path() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", path.name, url],
        cwd=path.parent, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"installing {path} failed:\n{done.stdout}{done.stderr}")


_UUID_V5 = """
create function public.uuid_generate_v5(ns uuid, name text) returns uuid
language sql immutable parallel safe as $$
    select (substr(h, 1, 12) || '3' || substr(h, 14, 3)
            || to_hex((('x' || substr(h, 17, 1))::bit(4)::int & 3) | 8)
            || substr(h, 18, 15))::uuid
      from (select md5(uuid_send(ns) || convert_to(name, 'UTF8')) h) s
$$;
create function public.uuid_generate_v4() returns uuid language sql as 'select gen_random_uuid()'
"""


def _uuid_ossp(conn: psycopg.Connection[Any]) -> None:
    """supa_audit requires uuid-ossp; where the server has none (the embedded one), its two
    functions in SQL (no builtin sha1: a name-based v3 UUID from md5() stands in for v5, as
    deterministic), a little slower than in C."""
    row = conn.execute("select 1 from pg_available_extensions where name = 'uuid-ossp'").fetchone()
    if row:
        conn.execute('create extension if not exists "uuid-ossp"')
    else:
        conn.execute(_UUID_V5)


def install(anchor: Anchor, root: Path, url: str) -> None:
    if anchor.key == "2ndq":
        psql(url, root / "audit-trigger" / "audit.sql")
        with psycopg.connect(url, autocommit=True) as conn:
            for table in PGBENCH_TABLES:
                conn.execute("select audit.audit_table(%s::regclass)", (table,))
    elif anchor.key == "supa":
        script = (root / "supa_audit" / "supa_audit--0.3.1.sql").read_text()
        # Outside CREATE EXTENSION: its dump markers have no extension to mark.
        script = re.sub(r"(?m)^select pg_catalog\.pg_extension_config_dump.*$", "", script)
        with psycopg.connect(url, autocommit=True) as conn:
            _uuid_ossp(conn)
            conn.execute(script.encode())
            for table in PGBENCH_TABLES[:3]:
                conn.execute("select audit.enable_tracking(%s::regclass)", (table,))
    else:
        psql(url, root / "pgMemento" / "INSTALL_PGMEMENTO.sql")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("select pgmemento.init('public')")
