"""Events from Linear, GitHub and Slack: webhooks normalized, then stored in bulk, each
delivery once.

A batch is one statement in one transaction: its deliveries are claimed in
``workspace.event_deliveries`` (``ON CONFLICT DO NOTHING``) and only the newly claimed ones
are written to the partitioned ``workspace.events``. A redelivered webhook finds its claim and
is not stored again; a batch cut short (a crash, a killed connection) leaves neither claims nor
events, so sending it again stores it exactly once.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from pgwarden.blueprints.workspace.services._core import Caller, Core, Invalid, Row, rows
from pgwarden.db import Session

SOURCES = ("linear", "github", "slack")
DEFAULT_BATCH = 5_000


@dataclass(frozen=True)
class Event:
    """One event, normalized: who sent it (``source``), its id there, its type and time."""

    source: str
    external_id: str
    event_type: str
    occurred_at: dt.datetime
    payload: Mapping[str, Any]
    actor: str | None = None
    task_id: int | None = None


@dataclass(frozen=True)
class Ingested:
    """What an ingest did: events received, stored, and left out as already stored."""

    received: int
    stored: int
    duplicates: int


_INGEST = """
with input as (
    select distinct on (i.source, i.external_id) i.*
      from unnest(%(source)s::workspace.event_source[], %(external_id)s::text[],
                  %(event_type)s::text[], %(actor)s::text[], %(task_id)s::bigint[],
                  %(payload)s::jsonb[], %(occurred_at)s::timestamptz[])
           as i(source, external_id, event_type, actor, task_id, payload, occurred_at)
     order by i.source, i.external_id
), claimed as (
    insert into workspace.event_deliveries (organization_id, source, external_id, occurred_at)
    select %(org)s, source, external_id, occurred_at from input
    on conflict do nothing
    returning source, external_id
)
insert into workspace.events (organization_id, source, external_id, event_type, actor, task_id,
                              payload, occurred_at)
select %(org)s, i.source, i.external_id, i.event_type, i.actor, i.task_id, i.payload,
       i.occurred_at
  from input i join claimed c using (source, external_id)
"""


def _when(value: Any, what: str) -> dt.datetime:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(f"{what}: {value!r} is not a time") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    raise Invalid(f"{what}: missing")


def from_webhook(
    source: str, body: Mapping[str, Any], headers: Mapping[str, str], received: dt.datetime
) -> Event:
    """A webhook delivery as an :class:`Event`, by each source's own shape:

    - ``linear``: the ``Linear-Delivery`` header (else ``webhookId``) is the id,
      ``<type>.<action>`` the type, ``createdAt`` the time;
    - ``github``: ``X-GitHub-Delivery`` is the id, ``X-GitHub-Event`` (and ``action``) the
      type; the time is the delivery's (GitHub payloads carry no common timestamp);
    - ``slack`` (Events API): ``event_id``, ``event.type``, ``event_time`` (seconds).
    """
    lower = {k.lower(): v for k, v in headers.items()}
    action = body.get("action")
    if source == "linear":
        ident = lower.get("linear-delivery") or body.get("webhookId")
        kind = f"{body.get('type', 'unknown')}.{action or 'event'}"
        when = _when(body.get("createdAt"), "createdAt")
        data = body.get("data")
        actor = (data or {}).get("creatorId") if isinstance(data, Mapping) else None
    elif source == "github":
        ident = lower.get("x-github-delivery")
        kind = lower.get("x-github-event", "unknown") + (f".{action}" if action else "")
        when = received
        sender = body.get("sender")
        actor = sender.get("login") if isinstance(sender, Mapping) else None
    elif source == "slack":
        ident = body.get("event_id")
        event = body.get("event")
        kind = str(event.get("type", "unknown")) if isinstance(event, Mapping) else "unknown"
        when = _when(body.get("event_time"), "event_time")
        actor = event.get("user") if isinstance(event, Mapping) else None
    else:
        raise Invalid(f"source must be one of {', '.join(SOURCES)}")
    if not ident:
        raise Invalid(f"{source} webhook without a delivery id")
    return Event(source, str(ident), kind[:100], when, body, str(actor) if actor else None)


class Events:
    def __init__(self, core: Core):
        self.core = core

    def ingest(
        self, caller: Caller, events: Iterable[Event], *, batch_size: int = DEFAULT_BATCH
    ) -> Ingested:
        """Store ``events`` for the caller's organization in batches of ``batch_size``, one
        transaction each. Events already stored (same source and id) are left out, so a
        stream sent again after a failure stores what was missing, nothing twice."""
        if batch_size < 1:
            raise Invalid("batch_size must be at least 1")
        received = stored = 0
        stream = iter(events)
        while batch := list(itertools.islice(stream, batch_size)):
            for e in batch:
                if e.source not in SOURCES:
                    raise Invalid(f"source must be one of {', '.join(SOURCES)}")
            params = {
                "org": caller.organization_id,
                "source": [e.source for e in batch],
                "external_id": [e.external_id for e in batch],
                "event_type": [e.event_type for e in batch],
                "actor": [e.actor for e in batch],
                "task_id": [e.task_id for e in batch],
                "payload": [Jsonb(dict(e.payload)) for e in batch],
                "occurred_at": [e.occurred_at for e in batch],
            }

            def work(db: Session, params: dict[str, Any] = params) -> int:
                return int(db.execute(_INGEST, params).rowcount)

            stored += self.core.run(caller, work)
            received += len(batch)
        return Ingested(received, stored, received - stored)

    def recent(self, caller: Caller, *, source: str | None = None, limit: int = 50) -> list[Row]:
        """The organization's latest events, newest first (of one source)."""
        if source is not None and source not in SOURCES:
            raise Invalid(f"source must be one of {', '.join(SOURCES)}")
        query = (
            "select event_id, source, external_id, event_type, actor, task_id, occurred_at"
            " from workspace.events where (%(source)s::workspace.event_source is null"
            " or source = %(source)s) order by occurred_at desc limit %(limit)s"
        )
        return self.core.run(
            caller,
            lambda db: rows(db, query, {"source": source, "limit": max(1, min(limit, 500))}),
        )
