"""The health API, Prometheus metrics, live samples and the dashboard: ``pgwarden serve``.

``create_app(warden)`` is a FastAPI app over one database, served by ``pgwarden serve`` or
mounted inside your own app (as PgHero's engine is)::

    from pgwarden import Warden
    from pgwarden.api import create_app

    app = create_app(Warden.from_config())          # uvicorn module:app
    host_app.mount("/pgwarden", create_app(warden))  # or inside another app

Endpoints: ``GET /healthz`` (the process is up), ``GET /readyz[?role=primary|replica]
[&max_lag=10s|16MB]`` (200 / 503 with the reasons), ``GET /metrics`` (Prometheus, with
postgres_exporter's names and ``pgwarden_*``), ``GET /api/health``, ``/api/tables``,
``/api/changes``, ``WS /live`` (one sample a second from one shared sampler) and ``GET /``
(the dashboard). Other modules add named series to the live view and the dashboard with a
:class:`LiveSource` under the entry-point group ``pgwarden.live``. ``[serve]`` in
pgwarden.toml configures it (:class:`ServeSection`). See
docs/serve.md.
"""

from pgwarden.api._app import Services, create_app
from pgwarden.api._config import ServeSection
from pgwarden.api._sampler import Sampler
from pgwarden.api._sources import LIVE_GROUP, LiveSource, registered_sources

__all__ = [
    "LIVE_GROUP",
    "LiveSource",
    "Sampler",
    "ServeSection",
    "Services",
    "create_app",
    "registered_sources",
]
