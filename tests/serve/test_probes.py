"""/healthz, /readyz (role, max_lag, bad input), auth of the API, on the server under test."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.serve.conftest import serving

from pgwarden import Warden
from pgwarden.api import ServeSection, create_app
from pgwarden.api._probes import BadProbe, MaxLag, judge

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def base(admin_url: str) -> str:
    warden = Warden(admin_url)
    with serving(create_app(warden, token=TOKEN, close_warden=True)) as url:
        yield url


def test_healthz_and_readyz_on_a_primary(base: str) -> None:
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] and body["reachable"] and body["role"] == "primary"
    assert body["lag_bytes"] is None and body["reasons"] == []
    assert httpx.get(f"{base}/readyz", params={"role": "primary"}).status_code == 200
    # A primary has no replay lag: any max_lag is met.
    assert httpx.get(f"{base}/readyz", params={"max_lag": "1ms"}).status_code == 200
    assert httpx.get(f"{base}/readyz", params={"max_lag": "1B"}).status_code == 200


def test_readyz_replica_on_a_primary_is_503_saying_why(base: str) -> None:
    answer = httpx.get(f"{base}/readyz", params={"role": "replica", "max_lag": "16MB"})
    assert answer.status_code == 503
    assert answer.json()["reasons"] == ["the server is a primary, not a replica"]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"role": "leader"}, "role='leader'"),
        ({"role": "Primary"}, "role='Primary'"),
        ({"max_lag": "ten seconds"}, "max_lag='ten seconds'"),
        ({"max_lag": "16 parsecs"}, "max_lag='16 parsecs'"),
        ({"max_lag": "-5s"}, "max_lag='-5s'"),
    ],
)
def test_bad_probe_input_is_400_naming_the_parameter(
    base: str, params: dict[str, str], names: str
) -> None:
    answer = httpx.get(f"{base}/readyz", params=params)
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad-request"
    assert names in answer.json()["detail"]


def test_the_api_needs_the_token_and_the_probes_do_not(base: str) -> None:
    for path in ("/api/health", "/api/tables", "/api/changes"):
        refused = httpx.get(base + path)
        assert refused.status_code == 401, path
        assert refused.json()["error"] == "unauthorized"
        assert refused.headers["www-authenticate"].startswith("Bearer")
        wrong = httpx.get(base + path, headers={"authorization": f"Bearer {TOKEN}x"})
        assert wrong.status_code == 401
        basic = httpx.get(base + path, headers={"authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401
        # Never from the query string (it would end up in access logs and browser history).
        assert httpx.get(base + path, params={"token": TOKEN}).status_code == 401
    ok = httpx.get(f"{base}/api/tables", headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "tables" in ok.json()
    # CORS is off by default: no allow-origin header for a foreign origin.
    cors = httpx.get(f"{base}/healthz", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in cors.headers
    # The OpenAPI document lists the endpoints.
    paths = httpx.get(f"{base}/openapi.json").json()["paths"]
    assert {"/healthz", "/readyz", "/metrics", "/api/health"} <= set(paths)


def test_token_env_unset_is_an_error_not_open_access() -> None:
    from pgwarden.errors import ServeError

    section = ServeSection(token="env:PGWARDEN_TEST_UNSET_TOKEN")
    with pytest.raises(ServeError, match="PGWARDEN_TEST_UNSET_TOKEN is not set"):
        section.resolved_token(environ={})
    assert section.resolved_token(environ={"PGWARDEN_TEST_UNSET_TOKEN": "t"}) == "t"


@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from([("", 1), ("B", 1), ("kB", 1024), ("MB", 1024**2), ("GB", 1024**3)]),
)
def test_max_lag_sizes_parse_to_bytes(value: int, unit: tuple[str, int]) -> None:
    parsed = MaxLag.parse(f"{value}{unit[0]}")
    assert parsed.bytes == value * unit[1] and parsed.seconds is None


@given(st.integers(min_value=0, max_value=10**5), st.sampled_from(["ms", "s", "min", "h"]))
def test_max_lag_durations_parse_to_seconds(value: int, unit: str) -> None:
    parsed = MaxLag.parse(f"{value}{unit}")
    factor = {"ms": 0.001, "s": 1, "min": 60, "h": 3600}[unit]
    assert parsed.seconds == pytest.approx(value * factor) and parsed.bytes is None


def test_lag_judged_on_replicas_only() -> None:
    replica = {"role": "replica", "lag_bytes": 2048, "lag_seconds": 3.5}
    assert judge(replica, None, MaxLag.parse("1kB")) == ["replay lag 2048 bytes > 1kB"]
    assert judge(replica, "replica", MaxLag.parse("4kB")) == []
    assert judge(replica, None, MaxLag.parse("2s")) == ["replay lag 3.500s > 2s"]
    assert judge(replica, None, MaxLag.parse("10s")) == []
    assert judge(replica, "primary", None) == ["the server is a replica, not a primary"]
    unknown = {"role": "replica", "lag_bytes": None, "lag_seconds": None}
    assert judge(unknown, None, MaxLag.parse("1s")) == ["lag in time is unknown"]
    with pytest.raises(BadProbe):
        MaxLag.parse("")
