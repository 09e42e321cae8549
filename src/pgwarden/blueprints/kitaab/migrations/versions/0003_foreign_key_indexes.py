"""Indexes for the foreign keys the seed's strategy leaves without one, so that a delete of
the referenced row (CASCADE, SET NULL, RESTRICT checks) never scans the referencing table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = r"""
create index idx_entries_scale_value_id on kitaab.entries (scale_value_id)
    where scale_value_id is not null;
create index idx_entries_scale_id on kitaab.entries (scale_id) where scale_id is not null;
create index idx_deeds_user_id_all on kitaab.deeds (user_id);
create index idx_merits_user_id on kitaab.merits (user_id);
create index idx_targets_user_id on kitaab.targets (user_id);
create index idx_notifications_user_id on kitaab.notifications (user_id);
"""

DOWNGRADE = r"""
drop index if exists kitaab.idx_entries_scale_value_id, kitaab.idx_entries_scale_id,
    kitaab.idx_deeds_user_id_all, kitaab.idx_merits_user_id, kitaab.idx_targets_user_id,
    kitaab.idx_notifications_user_id;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
