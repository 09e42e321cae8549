"""Prompts: named, versioned templates (a new text is a new version), searched by name,
content and tags."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from pgwarden.blueprints.workspace.services._core import Caller, Core, Row, one, rows
from pgwarden.db import Session


class Prompts:
    def __init__(self, core: Core):
        self.core = core

    def save(
        self,
        caller: Caller,
        name: str,
        content: str,
        *,
        variables: list[Any] | None = None,
        tags: list[str] | None = None,
    ) -> Row:
        """The next version of prompt ``name`` (version 1 when new)."""

        def work(db: Session) -> Row:
            # Versions of one name are written one at a time (the unique key would refuse the
            # second of two concurrent saves; the lock makes it wait and take the next number).
            db.execute(
                "select pg_advisory_xact_lock(hashtextextended(%s, %s))",
                [name, caller.organization_id],
            )
            return one(
                db,
                "insert into workspace.prompts (organization_id, name, version, content,"
                " variables, tags, created_by) select %s, %s, coalesce(max(version), 0) + 1,"
                " %s, %s, %s, %s from workspace.prompts where name = %s returning *",
                [
                    caller.organization_id,
                    name,
                    content,
                    Jsonb(variables or []),
                    tags or [],
                    caller.user_id,
                    name,
                ],
            )

        return self.core.run(caller, work, reason="save prompt")

    def latest(self, caller: Caller, name: str) -> Row:
        return self.core.run(
            caller,
            lambda db: one(
                db,
                "select * from workspace.prompts where name = %s order by version desc limit 1",
                [name],
                "no such prompt",
            ),
        )

    def versions(self, caller: Caller, name: str) -> list[Row]:
        return self.core.run(
            caller,
            lambda db: rows(
                db,
                "select prompt_id, version, content, tags, created_at from workspace.prompts"
                " where name = %s order by version",
                [name],
            ),
        )

    def search(self, caller: Caller, text: str, *, limit: int = 20) -> list[Row]:
        """Full-text search (name counts most, then content, then tags; name typos fall back
        to trigram similarity), best first, with highlights."""
        return self.core.run(
            caller,
            lambda db: rows(
                db,
                "select (s.item).prompt_id, (s.item).name, (s.item).version, s.rank,"
                " s.headline, s.fuzzy from warden.workspace_prompts__search(%s, %s, 0) s",
                [text, max(1, min(limit, 100))],
            ),
        )
