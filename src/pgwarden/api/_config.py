"""``[serve]`` in pgwarden.toml: address, token, what is public, how often things are read."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pgwarden.errors import ServeError
from pgwarden.spec import Duration, DurationField


class ServeSection(BaseModel):
    """``[serve]``: the health API, ``/metrics``, ``/live`` and the dashboard.

    ::

        [serve]
        host = "127.0.0.1"
        port = 8765
        token = "env:PGWARDEN_TOKEN"   # bearer token for everything but the probes
        metrics_public = true          # /metrics without the token (Prometheus)
        cors_origins = []              # CORS stays off unless origins are listed
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=1, le=65535)
    token: str | None = None
    """``env:NAME`` (read from the environment when serving), or the token itself (discouraged:
    it then sits in the file). Absent: no authentication, allowed on a loopback address only."""
    metrics_public: bool = True
    """Whether ``/metrics`` answers without the token (``/healthz`` and ``/readyz`` always do)."""
    cors_origins: list[str] = Field(default_factory=list)
    """Origins allowed to call the API from a browser; empty (default): CORS off."""
    sample_every: DurationField = Duration.parse("1s")
    """Interval of the shared ``/live`` sampler."""
    checks_every: DurationField = Duration.parse("60s")
    """How often ``doctor`` and the feature state are refreshed for ``/api/health`` and
    ``/metrics`` (they are served from that cache, never computed per request)."""
    top_queries: int = Field(default=10, ge=0, le=100)
    """Per-query series in ``/metrics``: the top N statements by total time, then ``other``."""
    top_tables: int = Field(default=20, ge=0, le=200)
    """Per-table series in ``/metrics``: the N largest tables."""

    @field_validator("sample_every", "checks_every")
    @classmethod
    def _at_least_100ms(cls, value: Duration) -> Duration:
        if value.seconds < 0.1:
            raise ValueError("must be at least 100ms")
        return value

    def resolved_token(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The token: ``env:NAME`` read from the environment (an unset or empty variable is
        an error, never "no authentication"), or the literal value."""
        if self.token is None:
            return None
        if not self.token.startswith("env:"):
            return self.token
        name = self.token[4:]
        value = (os.environ if environ is None else environ).get(name)
        if not value:
            raise ServeError(
                f"[serve] token = {self.token!r}: the environment variable {name} is not set",
                hint=f"export {name}=<a long random string>, or remove token to serve "
                "without authentication on 127.0.0.1",
            )
        return value


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
