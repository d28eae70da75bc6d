"""Initial schema: enterprises, banks, accounts, keys, authorisations, profiles, audit, scores.

Revision ID: 0001
Revises:
Create Date: 2026-04-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "enterprises",
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region_code", sa.String(6)),
        sa.Column("industry", sa.String(10)),
        sa.Column("status", sa.String(20)),
    )
    op.create_table(
        "banks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.UniqueConstraint("code", name="uq_banks_code"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("bank_id", sa.Integer, sa.ForeignKey("banks.id", name="fk_accounts_bank_id")),
        sa.Column("uscc", sa.String(18), sa.ForeignKey("enterprises.uscc", name="fk_accounts_uscc")),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("disabled_at", TS),
        sa.CheckConstraint(
            "role IN ('operator', 'bank', 'enterprise', 'regulator', 'analyst')", name="ck_accounts_role"
        ),
    )
    op.create_index("ix_accounts_bank_id", "accounts", ["bank_id"])
    op.create_index("ix_accounts_uscc", "accounts", ["uscc"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", name="fk_api_keys_account_id"),
            nullable=False,
        ),
        sa.Column("hash", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
        sa.Column("last_used_at", TS),
        sa.UniqueConstraint("key_id", name="uq_api_keys_key_id"),
    )
    op.create_index("ix_api_keys_account_id", "api_keys", ["account_id"])
    op.create_table(
        "authorisations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "uscc",
            sa.String(18),
            sa.ForeignKey("enterprises.uscc", name="fk_authorisations_uscc"),
            nullable=False,
        ),
        sa.Column("bank_id", sa.Integer, sa.ForeignKey("banks.id", name="fk_authorisations_bank_id"), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("granted_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
        sa.Column(
            "granted_by_account_id",
            sa.Integer,
            sa.ForeignKey("accounts.id", name="fk_authorisations_granted_by_account_id"),
        ),
        sa.CheckConstraint("purpose IN ('pre_credit', 'post_loan')", name="ck_authorisations_purpose"),
    )
    op.create_index("ix_authorisations_uscc_bank", "authorisations", ["uscc", "bank_id"])
    op.create_table(
        "enterprise_profiles",
        sa.Column(
            "uscc",
            sa.String(18),
            sa.ForeignKey("enterprises.uscc", name="fk_enterprise_profiles_uscc"),
            primary_key=True,
        ),
        sa.Column("as_of", sa.Date, primary_key=True),
        sa.Column("features", sa.JSON, nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("actor_account_id", sa.Integer),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("uscc", sa.String(18)),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("http_status", sa.Integer, nullable=False),
        sa.Column("detail", sa.String(200)),
        sa.CheckConstraint("outcome IN ('allowed', 'denied', 'error')", name="ck_audit_events_outcome"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_uscc_at", "audit_events", ["uscc", "at"])
    op.create_table(
        "score_responses",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "uscc",
            sa.String(18),
            sa.ForeignKey("enterprises.uscc", name="fk_score_responses_uscc"),
            nullable=False,
        ),
        sa.Column(
            "bank_id",
            sa.Integer,
            sa.ForeignKey("banks.id", name="fk_score_responses_bank_id"),
            nullable=False,
        ),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("probability_of_default", sa.Float, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("grade", sa.String(10), nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("model_version", sa.String(50), nullable=False),
        sa.Column("profile_as_of", sa.Date, nullable=False),
    )
    op.create_index("ix_score_responses_uscc", "score_responses", ["uscc"])
    op.create_index("ix_score_responses_bank_id", "score_responses", ["bank_id"])


def downgrade() -> None:
    for table in (
        "score_responses",
        "audit_events",
        "enterprise_profiles",
        "authorisations",
        "api_keys",
        "accounts",
        "banks",
        "enterprises",
    ):
        op.drop_table(table)
