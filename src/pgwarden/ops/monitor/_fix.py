"""Applying a finding's fix: lock_timeout, retries, CONCURRENTLY, invalid leftovers cleaned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from pgwarden.ops.monitor._model import Finding
from pgwarden.spec import Spec


def apply_fixes(conn: psycopg.Connection[Any], spec: Spec, findings: Sequence[Finding]) -> None:
    raise NotImplementedError("fixes land in the next commit")
