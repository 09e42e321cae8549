"""Running squawk (the ``squawk-cli`` wheel's binary) on SQL text and reading its JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pgwarden.errors import LintError


@dataclass(frozen=True)
class RawFinding:
    rule: str
    level: str
    message: str
    help: str | None
    line: int
    """0-based, as squawk reports it."""


def squawk_binary() -> str:
    """The squawk program installed with pgwarden (beside this Python), else on PATH."""
    beside = Path(sys.executable).with_name("squawk")
    if beside.exists():
        return str(beside)
    found = shutil.which("squawk")
    if found is None:
        raise LintError(
            "squawk is not installed", hint="pip install squawk-cli (a pgwarden dependency)"
        )
    return found


def run_squawk(
    text: str, name: str, *, in_transaction: bool = False, pg_version: str | None = None
) -> list[RawFinding]:
    """squawk's findings on ``text`` (reported as file ``name``)."""
    args = [squawk_binary(), "--reporter", "json", "--stdin-filepath", name]
    if in_transaction:
        args.append("--assume-in-transaction")
    if pg_version:
        args.append(f"--pg-version={pg_version}")
    done = subprocess.run(args, input=text, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise LintError(f"squawk failed on {name}: {done.stderr.strip() or done.returncode}")
    try:
        rows = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        raise LintError(f"squawk printed no JSON for {name}: {done.stdout[:200]!r}") from None
    return [
        RawFinding(
            rule=str(r["rule_name"]),
            level=str(r.get("level", "Warning")).lower(),
            message=str(r["message"]),
            help=r.get("help"),
            line=int(r.get("line", 0)),
        )
        for r in rows
    ]
