"""Deeds (hasanaat / saiyyiaat), their hierarchical items, versioned scales, and onboarding
(first deed, its items and scale, preferences, in one transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from pgwarden.blueprints.kitaab.services._core import Core, Forbidden, Invalid, Row, one, rows
from pgwarden.db import Session

CATEGORIES = ("hasanaat", "saiyyiaat")
ITEM = sql.SQL(
    "deed_item_id, deed_id, parent_deed_item_id, name, description, level, display_order, is_active"
)


def owned_deed(db: Session, user_id: int, deed_id: int) -> Row:
    deed = one(
        db,
        "select deed_id, user_id, name, description, category_type::text, is_active, "
        "display_order from kitaab.deeds where deed_id = %s and deleted_at is null",
        (deed_id,),
        missing=f"deed {deed_id} not found",
    )
    if deed["user_id"] != user_id:
        raise Forbidden("this deed belongs to another user")
    return deed


def item_owner(db: Session, deed_item_id: int) -> Row:
    """The item with its owner (``user_id``) and category; 404 when gone."""
    return one(
        db,
        "select i.deed_item_id, i.deed_id, i.name, i.level, i.is_active, d.user_id, "
        "d.category_type::text from kitaab.deed_items i join kitaab.deeds d using (deed_id) "
        "where i.deed_item_id = %s and d.deleted_at is null",
        (deed_item_id,),
        missing=f"deed item {deed_item_id} not found",
    )


class Deeds:
    def __init__(self, core: Core):
        self.core = core

    def create_deed(
        self, user_id: int, name: str, category_type: str, description: str | None = None
    ) -> Row:
        if category_type not in CATEGORIES:
            raise Invalid("category_type must be hasanaat or saiyyiaat")
        with self.core.tx(user_id, "create deed") as db:
            return self._deed(db, user_id, name, category_type, description)

    def _deed(
        self, db: Session, user_id: int, name: str, category: str, description: str | None
    ) -> Row:
        return one(
            db,
            "insert into kitaab.deeds (user_id, name, category_type, description) "
            "values (%s, %s, %s, %s) returning deed_id, user_id, name, description, "
            "category_type::text, is_active, display_order",
            (user_id, name, category, description),
        )

    def list_deeds(self, user_id: int) -> list[Row]:
        with self.core.tx(user_id) as db:
            return rows(
                db,
                "select deed_id, name, description, category_type::text, is_active, "
                "display_order from kitaab.deeds where user_id = %s and deleted_at is null "
                "order by display_order, deed_id",
                (user_id,),
            )

    def delete_deed(self, user_id: int, deed_id: int) -> None:
        """A soft delete (pgwarden soft_delete): restorable, entries kept."""
        with self.core.tx(user_id, "delete deed") as db:
            owned_deed(db, user_id, deed_id)
            db.execute("delete from kitaab.deeds where deed_id = %s", (deed_id,))

    def add_item(
        self,
        user_id: int,
        deed_id: int,
        name: str,
        parent_deed_item_id: int | None = None,
        display_order: int = 0,
        description: str | None = None,
    ) -> Row:
        """An item at the top (level 1) or under ``parent_deed_item_id`` (its level + 1);
        the database refuses a parent of another deed, a cycle, or a 6th level."""
        with self.core.tx(user_id, "add deed item") as db:
            owned_deed(db, user_id, deed_id)
            return self._item(db, deed_id, name, parent_deed_item_id, display_order, description)

    def _item(
        self,
        db: Session,
        deed_id: int,
        name: str,
        parent: int | None,
        order: int,
        description: str | None,
    ) -> Row:
        # level is set by the hierarchy trigger from the parent; 1 satisfies the CHECK first.
        return one(
            db,
            sql.SQL(
                "insert into kitaab.deed_items (deed_id, parent_deed_item_id, name, level, "
                "display_order, description) values (%s, %s, %s, case when %s::bigint is null "
                "then 1 else 2 end, %s, %s) returning {}"
            ).format(ITEM),
            (deed_id, parent, name, parent, order, description),
        )

    def move_item(self, user_id: int, deed_item_id: int, parent_deed_item_id: int | None) -> Row:
        with self.core.tx(user_id, "move deed item") as db:
            item = item_owner(db, deed_item_id)
            if item["user_id"] != user_id:
                raise Forbidden("this deed item belongs to another user")
            return one(
                db,
                sql.SQL(
                    "update kitaab.deed_items set parent_deed_item_id = %s, level = case when "
                    "%s::bigint is null then 1 else greatest(level, 2) end where deed_item_id "
                    "= %s returning {}"
                ).format(ITEM),
                (parent_deed_item_id, parent_deed_item_id, deed_item_id),
            )

    def set_item_active(self, user_id: int, deed_item_id: int, active: bool) -> Row:
        with self.core.tx(user_id, "deactivate deed item" if not active else "activate") as db:
            item = item_owner(db, deed_item_id)
            if item["user_id"] != user_id:
                raise Forbidden("this deed item belongs to another user")
            return one(
                db,
                sql.SQL(
                    "update kitaab.deed_items set is_active = %s where deed_item_id = %s "
                    "returning {}"
                ).format(ITEM),
                (active, deed_item_id),
            )

    def delete_item(self, user_id: int, deed_item_id: int) -> None:
        """Refused (409) while entries reference the item: deactivate it instead."""
        with self.core.tx(user_id, "delete deed item") as db:
            item = item_owner(db, deed_item_id)
            if item["user_id"] != user_id:
                raise Forbidden("this deed item belongs to another user")
            db.execute("delete from kitaab.deed_items where deed_item_id = %s", (deed_item_id,))

    def tree(self, user_id: int, deed_id: int) -> list[Row]:
        """The deed's items in hierarchy order (depth first, by display order)."""
        with self.core.tx(user_id) as db:
            owned_deed(db, user_id, deed_id)
            return rows(
                db,
                sql.SQL(
                    "with recursive t as ( select {}, array[display_order::bigint, "
                    "deed_item_id] as path from kitaab.deed_items where deed_id = %s and "
                    "parent_deed_item_id is null union all select i.deed_item_id, i.deed_id, "
                    "i.parent_deed_item_id, i.name, i.description, i.level, i.display_order, "
                    "i.is_active, t.path || array[i.display_order::bigint, i.deed_item_id] "
                    "from kitaab.deed_items i join t on i.parent_deed_item_id = "
                    "t.deed_item_id) select {} from t order by path"
                ).format(ITEM, ITEM),
                (deed_id,),
            )

    def define_scale(self, user_id: int, deed_id: int, name: str, values: Sequence[str]) -> Row:
        """A new scale version for the deed, with its ordered values; the previous active
        version is retired (its history stays in ``kitaab.scales__versions``)."""
        if not values:
            raise Invalid("a scale needs at least one value")
        with self.core.tx(user_id, "define scale") as db:
            owned_deed(db, user_id, deed_id)
            return self._scale(db, deed_id, name, values)

    def _scale(self, db: Session, deed_id: int, name: str, values: Sequence[str]) -> Row:
        db.execute(
            "update kitaab.scales set is_active = false where deed_id = %s and is_active",
            (deed_id,),
        )
        scale = one(
            db,
            "insert into kitaab.scales (deed_id, name, scale_version) select %s, %s, "
            "coalesce(max(scale_version), 0) + 1 from kitaab.scales where deed_id = %s "
            "returning scale_id, deed_id, name, scale_version, is_active",
            (deed_id, name, deed_id),
        )
        scale["values"] = rows(
            db,
            "insert into kitaab.scale_values (scale_id, value_name, value_order) "
            "select %s, v, o::int from unnest(%s::text[]) with ordinality as u(v, o) "
            "returning scale_value_id, value_name, value_order",
            (scale["scale_id"], list(values)),
        )
        return scale

    def scales(self, user_id: int, deed_id: int) -> list[Row]:
        with self.core.tx(user_id) as db:
            owned_deed(db, user_id, deed_id)
            return rows(
                db,
                "select s.scale_id, s.name, s.scale_version, s.is_active, coalesce(json_agg("
                "json_build_object('scale_value_id', v.scale_value_id, 'value_name', "
                "v.value_name, 'value_order', v.value_order) order by v.value_order) filter "
                "(where v.scale_value_id is not null), '[]') as values from kitaab.scales s "
                "left join kitaab.scale_values v using (scale_id) where s.deed_id = %s "
                "group by s.scale_id order by s.scale_version",
                (deed_id,),
            )

    def onboard(
        self,
        user_id: int,
        deed: dict[str, Any],
        items: Sequence[dict[str, Any]],
        scale: dict[str, Any] | None,
        preferences: dict[str, Any],
    ) -> Row:
        """The seed's onboarding in one transaction: first deed, its items (``parent`` is
        the index of an earlier item in ``items``), its scale, preferences."""
        if deed.get("category_type") not in CATEGORIES:
            raise Invalid("category_type must be hasanaat or saiyyiaat")
        with self.core.tx(user_id, "onboarding") as db:
            made = self._deed(db, user_id, deed["name"], deed["category_type"],
                              deed.get("description"))  # fmt: skip
            created: list[Row] = []
            for n, spec in enumerate(items):
                parent = spec.get("parent")
                if parent is not None and not 0 <= parent < n:
                    raise Invalid(f"items[{n}].parent must name an earlier item")
                parent_id = created[parent]["deed_item_id"] if parent is not None else None
                created.append(
                    self._item(
                        db,
                        made["deed_id"],
                        spec["name"],
                        parent_id,
                        n if spec.get("display_order") is None else spec["display_order"],
                        spec.get("description"),
                    )
                )
            made["items"] = created
            if scale is not None:
                made["scale"] = self._scale(db, made["deed_id"], scale["name"], scale["values"])
            db.execute(
                "update kitaab.users set onboarded_at = coalesce(onboarded_at, now()), "
                "timezone = coalesce(%s, timezone), language = coalesce(%s, language), "
                "theme = coalesce(%s, theme) where user_id = %s",
                (
                    preferences.get("timezone"),
                    preferences.get("language"),
                    preferences.get("theme"),
                    user_id,
                ),
            )
        return made
