"""``pgwarden workspace generate`` and ``pgwarden demo workspace --check``, as a user runs
them (the role prefix of this test process's, through the environment)."""

from __future__ import annotations

import json

from tests.workspace.conftest import scalar
from typer.testing import CliRunner

from pgwarden.cli import app as cli


def test_generate_then_demo_check(workspace_url: str, role_prefix: str) -> None:
    env = {"COLUMNS": "200", "PGWARDEN_WORKSPACE_ROLES": role_prefix}
    runner = CliRunner()
    made = runner.invoke(cli, ["--database-url", workspace_url, "workspace", "generate", "--json",
                               "--organizations", "2", "--tasks", "40", "--events", "200",
                               "--days", "45"], env=env)  # fmt: skip
    assert made.exit_code == 0, made.output
    counts = json.loads(made.output[made.output.index("{") :])
    assert (counts["organizations"], counts["tasks"], counts["events"]) == (2, 40, 200)
    assert counts["dependencies"] == 32  # chains of five: four edges each
    assert scalar(workspace_url, "select count(*) from workspace.events") == 200
    # partitions were made for the whole history: nothing waits in the default partition
    assert scalar(workspace_url, "select count(*) from workspace.events__default") == 0
    demo = runner.invoke(cli, ["--database-url", workspace_url, "demo", "workspace", "--check",
                               "--port", "0"], env=env)  # fmt: skip
    assert demo.exit_code == 0, (demo.output, demo.exception)
    said = " ".join(demo.output.split())  # rich wraps lines at the terminal's width
    assert "would close a cycle" in said and "stored 1 time(s)" in said
    assert "API check: ok" in said
