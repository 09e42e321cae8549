"""Query history: snapshots of statistics deltas in the warden schema, and top queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from pgwarden.ops.monitor._config import MonitorSection
from pgwarden.ops.monitor._model import QueryReport, Snapshot


def take_snapshot(conn: psycopg.Connection[Any], opts: MonitorSection) -> Snapshot:
    raise NotImplementedError("snapshots land in the next commit")


def top_queries(conn: psycopg.Connection[Any], window: dt.timedelta, top: int) -> QueryReport:
    raise NotImplementedError("query history lands in the next commit")


def query_text(conn: psycopg.Connection[Any], queryid: int) -> str | None:
    raise NotImplementedError("query history lands in the next commit")
