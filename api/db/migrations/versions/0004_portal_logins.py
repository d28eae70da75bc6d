"""Portal logins: an argon2id password hash on accounts (enterprise and regulator) and server-side sessions.

A session row is what a signed cookie names; logging out ends the row, so a copied cookie stops working at once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(200), nullable=True))
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "account_id", sa.Integer, sa.ForeignKey("accounts.id", name="fk_portal_sessions_account_id"),
            nullable=False,
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("ended_at", TS),
    )
    op.create_index("ix_portal_sessions_account_id", "portal_sessions", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_portal_sessions_account_id", table_name="portal_sessions")
    op.drop_table("portal_sessions")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("password_hash")
