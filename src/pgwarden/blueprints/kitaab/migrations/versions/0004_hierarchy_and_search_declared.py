"""The deed-item hierarchy and the messages' text search handed to pgwarden: the declared
``hierarchy`` (on ``deed_items``) and ``search`` (on ``messages``) features in pgwarden.toml
keep them from now on, so the hand-written triggers of 0001 and the GIN index of 0002 go.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = r"""
drop trigger if exists kitaab_relevel on kitaab.deed_items;
drop trigger if exists kitaab_hierarchy on kitaab.deed_items;
drop function if exists kitaab.deed_items_relevel(), kitaab.deed_items_hierarchy();
drop index if exists kitaab.idx_messages_content_gin;
"""

# Back to 0003: the hand-written hierarchy of 0001 and the GIN index of 0002, as they were.
DOWNGRADE = r"""
create function kitaab.deed_items_hierarchy() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    parent record;
begin
    if new.parent_deed_item_id is null then
        new.level := 1;
    else
        select deed_id, level into parent from kitaab.deed_items
         where deed_item_id = new.parent_deed_item_id;
        if not found then
            return new;  -- the foreign key reports it
        end if;
        if parent.deed_id <> new.deed_id then
            raise exception 'deed item % and its parent % belong to different deeds',
                new.deed_item_id, new.parent_deed_item_id
                using errcode = 'check_violation', constraint = 'deed_items_same_deed';
        end if;
        -- Moves within one deed are serialized, so two concurrent moves cannot make a cycle.
        if tg_op = 'UPDATE' then
            perform pg_advisory_xact_lock(
                hashtext('kitaab.deed_items'), (new.deed_id % 2147483647)::int);
        end if;
        if tg_op = 'UPDATE' and exists (
            with recursive up as (
                select deed_item_id, parent_deed_item_id, 1 as depth from kitaab.deed_items
                 where deed_item_id = new.parent_deed_item_id
                union all
                select d.deed_item_id, d.parent_deed_item_id, up.depth + 1
                  from kitaab.deed_items d join up on d.deed_item_id = up.parent_deed_item_id
                 where up.depth < 100
            )
            select 1 from up where deed_item_id = new.deed_item_id
        ) then
            raise exception 'moving deed item % under % would make a cycle',
                new.deed_item_id, new.parent_deed_item_id
                using errcode = 'check_violation', constraint = 'deed_items_no_cycle';
        end if;
        new.level := parent.level + 1;
    end if;
    return new;
end
$$;
create trigger kitaab_hierarchy before insert or update of parent_deed_item_id, deed_id, level
    on kitaab.deed_items for each row execute function kitaab.deed_items_hierarchy();

-- A moved item's subtree gets its new levels (each child's trigger checks the depth limit).
create function kitaab.deed_items_relevel() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    update kitaab.deed_items set level = new.level + 1
     where parent_deed_item_id = new.deed_item_id and level <> new.level + 1;
    return null;
end
$$;
create trigger kitaab_relevel after update of level on kitaab.deed_items
    for each row when (old.level is distinct from new.level)
    execute function kitaab.deed_items_relevel();

create index idx_messages_content_gin on kitaab.messages
    using gin (to_tsvector('english', content));
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
