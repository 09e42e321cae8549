"""Daily entries: one per user, deed item and day (UPSERT), scale-based or count-based,
written by the owner or by a connected user with write permission (``created_by_user_id``
is the writer, ``user_id`` the owner). Each write updates the merits and targets that count
that item, in the same transaction. History is pgwarden's audit trail of ``kitaab.entries``."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from pgwarden.blueprints.kitaab.services import progress
from pgwarden.blueprints.kitaab.services._core import (
    REFUSALS,
    Conflict,
    Core,
    Forbidden,
    Invalid,
    NotFound,
    Row,
    actor_of,
    maybe,
    one,
    plain,
    rows,
    translate,
)
from pgwarden.blueprints.kitaab.services.deeds import item_owner
from pgwarden.blueprints.kitaab.services.social import access
from pgwarden.blueprints.kitaab.services.users import authenticate_in
from pgwarden.db import Context, Session, context_statement
from pgwarden.features.audit import _runtime as audit_reads

ENTRY = sql.SQL(
    "entry_id, user_id, deed_item_id, entry_date, created_by_user_id, scale_id, "
    "scale_value_id, count_value, notes, created_at, updated_at"
)
HISTORY_TABLE = "kitaab.entries"

# The checks of _writable and _scale_of, the UPSERT, and the goals counting the entry, as one
# statement: a request spends its time in one round trip instead of five.
_RECORD = sql.SQL(
    "with item as (select i.deed_item_id, d.user_id as owner, "
    "(select s.scale_id from kitaab.scale_values v join kitaab.scales s using (scale_id) "
    "where v.scale_value_id = %(value)s and s.deed_id = i.deed_id) as scale_id "
    "from kitaab.deed_items i join kitaab.deeds d using (deed_id) "
    "where i.deed_item_id = %(item)s and d.deleted_at is null and i.is_active and "
    "(d.user_id = %(actor)s or exists (select 1 from kitaab.permissions p "
    "join kitaab.relations r on r.relation_id = p.relation_id "
    "where r.requester_id = %(actor)s and r.status = 'accepted' "
    "and p.deed_item_id = i.deed_item_id and p.is_active and p.permission_type = 'write'))), "
    "prior as (select 1 from kitaab.entries e, item where e.user_id = item.owner "
    "and e.deed_item_id = %(item)s and e.entry_date = %(day)s), "
    "written as (insert into kitaab.entries (user_id, deed_item_id, entry_date, "
    "created_by_user_id, scale_id, scale_value_id, count_value, notes) "
    "select item.owner, %(item)s, %(day)s, %(actor)s, item.scale_id, %(value)s, %(count)s, "
    "%(notes)s from item where %(value)s::bigint is null or item.scale_id is not null "
    "on conflict (user_id, deed_item_id, entry_date) do update set created_by_user_id = "
    "excluded.created_by_user_id, scale_id = excluded.scale_id, scale_value_id = "
    "excluded.scale_value_id, count_value = excluded.count_value, notes = excluded.notes "
    "returning {}) "
    "select w.*, not exists (select from prior) as created, {} "
    "from written w"
).format(ENTRY, progress.AFFECTED_IDS.format(owner=sql.SQL("w.user_id"),
         item=sql.SQL("w.deed_item_id"), day=sql.SQL("w.entry_date")))  # fmt: skip


def _record_params(
    actor_id: int,
    deed_item_id: int,
    entry_date: dt.date,
    count_value: Decimal | float | None,
    scale_value_id: int | None,
    notes: str | None,
) -> dict[str, Any]:
    return {
        "actor": actor_id,
        "item": deed_item_id,
        "day": entry_date,
        "value": scale_value_id,
        "count": count_value,
        "notes": notes,
    }


class _Slow(Exception):
    """The fast path of record_async cannot finish the write on its own."""


class Entries:
    def __init__(self, core: Core):
        self.core = core

    def _writable(self, db: Session, actor_id: int, deed_item_id: int) -> Row:
        item = item_owner(db, deed_item_id)
        if item["user_id"] != actor_id and access(db, actor_id, deed_item_id) != "write":
            raise Forbidden("you have no write permission on this deed item")
        if not item["is_active"]:
            raise Invalid("this deed item is deactivated")
        return item

    def record(
        self,
        actor_id: int,
        deed_item_id: int,
        entry_date: dt.date,
        *,
        count_value: Decimal | float | None = None,
        scale_value_id: int | None = None,
        notes: str | None = None,
    ) -> tuple[Row, bool]:
        """Create or replace the entry of the item's owner for that day. Returns the entry
        and whether it was created (else updated)."""
        params = _record_params(
            actor_id, deed_item_id, entry_date, count_value, scale_value_id, notes
        )
        with self.core.tx(actor_id, "record entry") as db:
            # One statement does the checks, the UPSERT and finds the goals to refresh; when it
            # writes nothing, the checks run again one by one to say which rule refused.
            entry = maybe(db, _RECORD, params)
            if entry is None:
                item = self._writable(db, actor_id, deed_item_id)
                self._scale_of(db, item["deed_id"], scale_value_id)
                raise Conflict("the entry could not be recorded; try again")  # a race: rare
            created = bool(entry.pop("created"))
            goals = {kind: entry.pop(f"{kind}_ids") for kind in progress.KINDS}
            progress.refresh_item(self.core, db, entry["user_id"], deed_item_id, entry_date, goals)
        return entry, created

    async def record_async(
        self,
        pool: AsyncConnectionPool[Any],
        token: str,
        deed_item_id: int,
        entry_date: dt.date,
        *,
        count_value: Decimal | float | None = None,
        scale_value_id: int | None = None,
        notes: str | None = None,
    ) -> tuple[Row, bool]:
        """:meth:`record` for the HTTP API's event loop, by the bearer ``token``'s user
        (:class:`Unauthorized` when it is not valid). One transaction on ``pool``: the token
        lookup (which also reads what the tenant's MAC binds), then the signed context and
        the one statement of the common case (the checks pass, no goal counts the entry)
        together in a pipeline, then COMMIT: three round trips, as an unsigned request whose
        token was checked elsewhere would need four. Anything else is rolled back and handed
        to :meth:`record` in a worker thread, which says which rule refused or refreshes the
        goals."""
        actor_id: int | None = None
        try:
            async with pool.connection() as conn:
                actor_id, nonce = await authenticate_in(conn, token, self.core.now())
                context = Context(
                    actor=actor_of(actor_id), tenant=str(actor_id), reason="record entry"
                )
                params = _record_params(
                    actor_id, deed_item_id, entry_date, count_value, scale_value_id, notes
                )
                async with conn.pipeline():
                    await conn.execute(
                        *context_statement(context, self.core.warden.tenant_key, nonce)
                    )
                    cur = conn.cursor(row_factory=dict_row)
                    await cur.execute(_RECORD, params)
                    entry = await cur.fetchone()
                if entry is None or any(entry[f"{kind}_ids"] for kind in progress.KINDS):
                    raise _Slow
        except _Slow:
            assert actor_id is not None
            return await asyncio.to_thread(
                self.record,
                actor_id,
                deed_item_id,
                entry_date,
                count_value=count_value,
                scale_value_id=scale_value_id,
                notes=notes,
            )
        except REFUSALS as exc:
            raise translate(exc) from exc
        for kind in progress.KINDS:
            del entry[f"{kind}_ids"]
        created = bool(entry.pop("created"))
        return plain(entry), created

    def _scale_of(self, db: Session, deed_id: int, scale_value_id: int | None) -> int | None:
        if scale_value_id is None:
            return None
        found = maybe(
            db,
            "select s.scale_id from kitaab.scale_values v join kitaab.scales s using (scale_id) "
            "where v.scale_value_id = %s and s.deed_id = %s",
            (scale_value_id, deed_id),
        )
        if found is None:
            raise Invalid("scale_value_id is not a value of this deed's scales")
        return int(found["scale_id"])

    def _find(self, db: Session, entry_id: int) -> Row:
        return one(
            db,
            sql.SQL("select {} from kitaab.entries where entry_id = %s").format(ENTRY),
            (entry_id,),
            missing=f"entry {entry_id} not found",
        )

    def _readable(self, db: Session, viewer_id: int, entry: Row) -> None:
        if entry["user_id"] != viewer_id and access(db, viewer_id, entry["deed_item_id"]) is None:
            # Not "forbidden": without permission the entry's existence is not disclosed.
            raise NotFound(f"entry {entry['entry_id']} not found")

    def get(self, viewer_id: int, entry_id: int) -> Row:
        with self.core.tx(viewer_id) as db:
            entry = self._find(db, entry_id)
            self._readable(db, viewer_id, entry)
            return entry

    def update(self, actor_id: int, entry_id: int, changes: dict[str, Any]) -> Row:
        """Change count_value, scale_value_id or notes (owner, or a writer)."""
        unknown = sorted(set(changes) - {"count_value", "scale_value_id", "notes"})
        if unknown:
            raise Invalid(f"cannot change {', '.join(unknown)} of an entry")
        with self.core.tx(actor_id, "edit entry") as db:
            entry = self._find(db, entry_id)
            self._readable(db, actor_id, entry)
            item = self._writable(db, actor_id, entry["deed_item_id"])
            merged = {**entry, **changes}
            scale_id = self._scale_of(db, item["deed_id"], merged["scale_value_id"])
            updated = one(
                db,
                sql.SQL(
                    "update kitaab.entries set count_value = %s, scale_value_id = %s, scale_id "
                    "= %s, notes = %s, created_by_user_id = %s where entry_id = %s and "
                    "entry_date = %s returning {}"
                ).format(ENTRY),
                (
                    merged["count_value"],
                    merged["scale_value_id"],
                    scale_id,
                    merged["notes"],
                    actor_id,
                    entry_id,
                    entry["entry_date"],
                ),
            )
            progress.refresh_item(
                self.core, db, entry["user_id"], entry["deed_item_id"], entry["entry_date"]
            )
            return updated

    def delete(self, actor_id: int, entry_id: int) -> None:
        with self.core.tx(actor_id, "delete entry") as db:
            entry = self._find(db, entry_id)
            self._readable(db, actor_id, entry)
            self._writable(db, actor_id, entry["deed_item_id"])
            db.execute(
                "delete from kitaab.entries where entry_id = %s and entry_date = %s",
                (entry_id, entry["entry_date"]),
            )

    def list_for(
        self,
        viewer_id: int,
        owner_id: int | None = None,
        since: dt.date | None = None,
        until: dt.date | None = None,
        limit: int = 500,
    ) -> list[Row]:
        """The owner's entries (default: the viewer's own); another user's only on the items
        the viewer may read or write."""
        owner = owner_id if owner_id is not None else viewer_id
        with self.core.tx(viewer_id) as db:
            return rows(
                db,
                sql.SQL(
                    "select {} from kitaab.entries e where e.user_id = %(owner)s and "
                    "e.entry_date >= coalesce(%(since)s::date, '-infinity') and e.entry_date "
                    "<= coalesce(%(until)s::date, 'infinity') and (%(owner)s = %(viewer)s or "
                    "exists (select 1 from kitaab.permissions p join kitaab.relations r using "
                    "(relation_id) where r.requester_id = %(viewer)s and r.requestee_id = "
                    "%(owner)s and r.status = 'accepted' and p.deed_item_id = e.deed_item_id "
                    "and p.is_active)) order by e.entry_date desc, e.entry_id desc limit "
                    "%(limit)s"
                ).format(ENTRY),
                {
                    "owner": owner,
                    "viewer": viewer_id,
                    "since": since,
                    "until": until,
                    "limit": limit,
                },
            )

    def history(self, viewer_id: int, entry_id: int) -> list[Row]:
        """Every version of the entry from pgwarden's audit trail (the seed's entry_history):
        values, operation, who (``actor`` = ``user:<id>``) and when. Readable by whoever may
        read the entry; a deleted entry's history is its owner's."""
        with self.core.tx(viewer_id) as db:
            entry = maybe(db, sql.SQL(
                'select {} from kitaab.entries where entry_id = %s'
            ).format(ENTRY),
                          (entry_id,))  # fmt: skip
            # Read in the viewer's session: the audit store's row-level security shows the
            # events of entries the viewer's tenant may read (warden.audit's pool has none).
            versions = audit_reads.history(db.connection, HISTORY_TABLE, entry_id)
            if not versions:
                raise NotFound(f"entry {entry_id} not found")
            if entry is not None:
                self._readable(db, viewer_id, entry)
            else:
                last = next((v.row for v in reversed(versions) if v.row), None)
                if last is None or last.get("user_id") != viewer_id:
                    raise NotFound(f"entry {entry_id} not found")
        return [
            {
                "version": v.version,
                "op": v.op,
                "valid_from": v.valid_from,
                "valid_to": v.valid_to,
                "actor": v.actor,
                "reason": v.reason,
                "changed": v.changed,
                "row": v.row,
            }
            for v in versions
        ]
