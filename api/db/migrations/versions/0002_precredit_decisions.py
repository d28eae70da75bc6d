"""Pre-credit decisions: policy facts stored with each profile; decision, limit, policy hits on each score.

PD, score and grade become nullable: an unscorable enterprise gets none of them, only what is missing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enterprise_profiles") as batch:
        batch.add_column(sa.Column("policy_facts", sa.JSON))
    with op.batch_alter_table("score_responses") as batch:
        batch.alter_column("probability_of_default", existing_type=sa.Float, nullable=True)
        batch.alter_column("score", existing_type=sa.Integer, nullable=True)
        batch.alter_column("grade", existing_type=sa.String(10), nullable=True)
        batch.add_column(sa.Column("requested_amount", sa.Float))
        batch.add_column(sa.Column("decision", sa.String(10)))
        batch.add_column(sa.Column("pre_credit_limit", sa.JSON))
        batch.add_column(sa.Column("policy_hits", sa.JSON))
        batch.add_column(sa.Column("rule_set_version", sa.String(40)))
        batch.add_column(sa.Column("insufficient_data", sa.JSON))
        batch.create_check_constraint(
            "ck_score_responses_decision", "decision IN ('approve', 'refer', 'decline')"
        )


def downgrade() -> None:
    with op.batch_alter_table("score_responses") as batch:
        batch.drop_constraint("ck_score_responses_decision", type_="check")
        for column in ("insufficient_data", "rule_set_version", "policy_hits", "pre_credit_limit", "decision",
                       "requested_amount"):
            batch.drop_column(column)
    # unscorable responses have no score to restore; they cannot survive a downgrade
    op.execute("DELETE FROM score_responses WHERE probability_of_default IS NULL OR score IS NULL OR grade IS NULL")
    with op.batch_alter_table("score_responses") as batch:
        batch.alter_column("probability_of_default", existing_type=sa.Float, nullable=False)
        batch.alter_column("score", existing_type=sa.Integer, nullable=False)
        batch.alter_column("grade", existing_type=sa.String(10), nullable=False)
    with op.batch_alter_table("enterprise_profiles") as batch:
        batch.drop_column("policy_facts")
