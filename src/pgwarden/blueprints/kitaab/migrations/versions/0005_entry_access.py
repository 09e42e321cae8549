"""Who may read or write whose entries, as one view: the grant table of the entries'
row-level security (``tenancy`` in pgwarden.toml). A connected user (the requester of an
accepted relation) reads the entries of an item they hold an active permission on, and
writes them with a ``write`` permission.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-20
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = r"""
create view kitaab.entry_access as
select p.deed_item_id, r.requestee_id as owner_id, r.requester_id as viewer_id,
       p.permission_type = 'write' as can_write
  from kitaab.permissions p join kitaab.relations r on r.relation_id = p.relation_id
 where r.status = 'accepted' and p.is_active;
comment on view kitaab.entry_access is
    'Active permissions over accepted relations: the grant of the entries'' policies.';
"""

DOWNGRADE = r"""
drop view if exists kitaab.entry_access;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
