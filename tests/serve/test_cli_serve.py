"""``pgwarden serve`` through the installed command: refusals before listening, and a real
process answering its probes with the token from ``[serve] token = "env:NAME"``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.serve.conftest import free_port
from typer.testing import CliRunner

from pgwarden.cli import app


def test_unset_token_variable_and_public_address_without_token_are_refused(
    project: Path,
) -> None:
    (project / "pgwarden.toml").write_text('[serve]\ntoken = "env:PGW_SERVE_TOKEN_UNSET"\n')
    result = CliRunner().invoke(app, ["serve"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "error (serve)" in result.output and "PGW_SERVE_TOKEN_UNSET is not set" in result.output
    (project / "pgwarden.toml").write_text("[serve]\nport = 8765\n")
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "refusing to serve on 0.0.0.0 without a token" in result.output
    (project / "pgwarden.toml").write_text("[serve]\nprot = 8765\n")
    result = CliRunner().invoke(app, ["serve"], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "did you mean 'port'" in result.output


def test_serve_runs_answers_and_stops_on_ctrl_c(project: Path) -> None:
    port = free_port()
    (project / "pgwarden.toml").write_text(f'[serve]\nport = {port}\ntoken = "env:PGW_T"\n')
    env = {**os.environ, "PGW_T": "from-the-environment"}
    command = [str(Path(sys.executable).parent / "pgwarden"), "serve"]
    process = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert httpx.get(f"{base}/api/tables").status_code == 401
        auth = {"authorization": "Bearer from-the-environment"}
        assert httpx.get(f"{base}/api/tables", headers=auth).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert f"http://127.0.0.1:{port}/" in out and "from-the-environment" not in out
