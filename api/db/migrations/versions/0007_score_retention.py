"""Score retention: an index to find stored scores by age, and the mark of how far they have been pruned.

``score_responses.requested_at`` gets an index so ``xinyi scores prune`` deletes old scores in small batches
without scanning the table; ``retention_marks`` keeps, per pruned table, the cutoff of the latest prune, so a
read of a pruned score can say so (410) instead of a bare 404 (``api.retention``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_index("ix_score_responses_requested_at", "score_responses", ["requested_at"])
    op.create_table(
        "retention_marks",
        sa.Column("subject", sa.String(40), primary_key=True),
        sa.Column("pruned_before", TS, nullable=False),
        sa.Column("pruned_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retention_marks")
    op.drop_index("ix_score_responses_requested_at", "score_responses")
