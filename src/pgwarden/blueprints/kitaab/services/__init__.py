"""Kitaab's service layer: one module per cluster of the seed, over one :class:`Core`
(the :class:`~pgwarden.Warden` and the clock). Every write runs in
``Warden.session(actor="user:<id>")``, so pgwarden's audit trail attributes it to the user.
Broken rules raise :class:`KitaabError` subclasses (their ``status`` is the HTTP answer)."""

from __future__ import annotations

from argon2 import PasswordHasher

from pgwarden.blueprints.kitaab.services._core import (
    Clock,
    Conflict,
    Core,
    Forbidden,
    Invalid,
    KitaabError,
    NotFound,
    Row,
    Unauthorized,
)
from pgwarden.blueprints.kitaab.services.dashboard import AuditLog, Dashboard
from pgwarden.blueprints.kitaab.services.deeds import Deeds
from pgwarden.blueprints.kitaab.services.entries import Entries
from pgwarden.blueprints.kitaab.services.progress import Progress
from pgwarden.blueprints.kitaab.services.reflections import Messages, Reflections
from pgwarden.blueprints.kitaab.services.reminders import Reminders, Sender
from pgwarden.blueprints.kitaab.services.social import Social
from pgwarden.blueprints.kitaab.services.users import Users
from pgwarden.warden import Warden

# Fast, still argon2id: for tests, demo data and benchmarks, never for real accounts.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Kitaab:
    """Every workflow of the seed, on one database::

    app = Kitaab(warden)
    user, token = app.users.register("a@example.org", "s3cret-pass", "Aisha")
    """

    def __init__(
        self,
        warden: Warden,
        *,
        clock: Clock | None = None,
        hasher: PasswordHasher | None = None,
        sender: Sender | None = None,
    ):
        self.core = Core(warden, clock)
        self.users = Users(self.core, hasher)
        self.deeds = Deeds(self.core)
        self.entries = Entries(self.core)
        self.social = Social(self.core)
        self.progress = Progress(self.core)
        self.reflections = Reflections(self.core)
        self.messages = Messages(self.core)
        self.reminders = Reminders(self.core, sender)
        self.dashboard = Dashboard(self.core)
        self.audit = AuditLog(self.core)

    @property
    def warden(self) -> Warden:
        return self.core.warden


__all__ = [
    "FAST_HASHER",
    "Conflict",
    "Forbidden",
    "Invalid",
    "Kitaab",
    "KitaabError",
    "NotFound",
    "Row",
    "Unauthorized",
]
