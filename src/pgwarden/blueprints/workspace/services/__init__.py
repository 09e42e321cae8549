"""The workspace blueprint's service layer over one :class:`Core` (the
:class:`~pgwarden.Warden`, connected as the app role, and the clock). Every call runs in
``Warden.run`` (retried on serialization failure and deadlock) as the caller's organization,
the tenant row-level security filters on, and as ``user:<id>`` in the audit trail. Broken
rules raise :class:`WorkspaceError` subclasses (their ``status`` is the HTTP answer)."""

from __future__ import annotations

from pgwarden.blueprints.workspace.services._core import (
    Caller,
    Clock,
    Conflict,
    Core,
    Forbidden,
    Invalid,
    NotFound,
    Row,
    Unauthorized,
    WorkspaceError,
)
from pgwarden.blueprints.workspace.services.analytics import Analytics
from pgwarden.blueprints.workspace.services.dependencies import Dependencies
from pgwarden.blueprints.workspace.services.events import (
    DEFAULT_BATCH,
    SOURCES,
    Event,
    Events,
    Ingested,
    from_webhook,
)
from pgwarden.blueprints.workspace.services.insights import Insights
from pgwarden.blueprints.workspace.services.orgs import Organizations
from pgwarden.blueprints.workspace.services.projects import Projects
from pgwarden.blueprints.workspace.services.prompts import Prompts
from pgwarden.blueprints.workspace.services.tasks import STATUSES, Tasks
from pgwarden.warden import Warden


class Workspace:
    """Every workflow of the workspace blueprint, on one database::

    app = Workspace(workspace.app_warden(url))
    org, owner, token = app.orgs.create("Acme", "acme", "ada@acme.test", "Ada")
    me = app.orgs.authenticate(token)
    a = app.tasks.create(me, "design"); b = app.tasks.create(me, "build")
    app.dependencies.add(me, b["task_id"], a["task_id"])     # build waits on design
    app.dependencies.blockers(me, b["task_id"])               # [design]
    """

    def __init__(self, warden: Warden, *, clock: Clock | None = None):
        self.core = Core(warden, clock)
        self.orgs = Organizations(self.core)
        self.projects = Projects(self.core)
        self.tasks = Tasks(self.core)
        self.dependencies = Dependencies(self.core)
        self.events = Events(self.core)
        self.analytics = Analytics(self.core)
        self.prompts = Prompts(self.core)
        self.insights = Insights(self.core)

    @property
    def warden(self) -> Warden:
        return self.core.warden


__all__ = [
    "DEFAULT_BATCH",
    "SOURCES",
    "STATUSES",
    "Caller",
    "Conflict",
    "Event",
    "Forbidden",
    "Ingested",
    "Invalid",
    "NotFound",
    "Row",
    "Unauthorized",
    "Workspace",
    "WorkspaceError",
    "from_webhook",
]
