"""Loan reports (回传), objections (异议) with their receipts, and requests for human review (PIPL Art. 24).

``loan_events`` is unique on (loan, type, date, sequence): the idempotency key, so the same event sent twice,
even at the same moment, is stored once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
EVENT_TYPES = "'application', 'approval', 'disbursement', 'repayment', 'overdue', 'default', 'closure'"
OBJECTION_STATUSES = "'submitted', 'in_review', 'corrected', 'rejected'"


def _fk(table: str, column: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(target, name=f"fk_{table}_{column}")


def upgrade() -> None:
    op.create_table(
        "loans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("bank_id", sa.Integer, _fk("loans", "bank_id", "banks.id"), nullable=False),
        sa.Column("bank_loan_id", sa.String(64), nullable=False),
        sa.Column("uscc", sa.String(18), _fk("loans", "uscc", "enterprises.uscc"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("bank_id", "bank_loan_id", name="uq_loans_bank_loan"),
    )
    op.create_index("ix_loans_uscc", "loans", ["uscc"])
    op.create_table(
        "loan_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("loan_id", sa.Integer, _fk("loan_events", "loan_id", "loans.id"), nullable=False),
        sa.Column("event_type", sa.String(20), nullable=False),
        sa.Column("event_date", sa.Date, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("amount", sa.Float),
        sa.Column("term_months", sa.Integer),
        sa.Column("annual_rate", sa.Float),
        sa.Column("credit_type", sa.String(10)),
        sa.Column("days_past_due", sa.Integer),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("reported_at", TS, nullable=False),
        sa.Column(
            "reported_by_account_id", sa.Integer, _fk("loan_events", "reported_by_account_id", "accounts.id"),
            nullable=False,
        ),
        sa.Column(
            "authorisation_id", sa.Integer, _fk("loan_events", "authorisation_id", "authorisations.id"),
            nullable=False,
        ),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.UniqueConstraint("loan_id", "event_type", "event_date", "sequence", name="uq_loan_events_key"),
        sa.CheckConstraint(f"event_type IN ({EVENT_TYPES})", name="ck_loan_events_type"),
        sa.CheckConstraint("credit_type IN ('credit', 'secured')", name="ck_loan_events_credit_type"),
    )
    op.create_index("ix_loan_events_loan_id", "loan_events", ["loan_id"])
    op.create_table(
        "objections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uscc", sa.String(18), _fk("objections", "uscc", "enterprises.uscc"), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("record_key", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column(
            "submitted_by_account_id", sa.Integer, _fk("objections", "submitted_by_account_id", "accounts.id"),
            nullable=False,
        ),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("decision_note", sa.Text),
        sa.CheckConstraint(f"status IN ({OBJECTION_STATUSES})", name="ck_objections_status"),
    )
    op.create_index("ix_objections_uscc_status", "objections", ["uscc", "status"])
    op.create_table(
        "objection_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "objection_id", sa.Integer, _fk("objection_changes", "objection_id", "objections.id"), nullable=False
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("account_id", sa.Integer, _fk("objection_changes", "account_id", "accounts.id"), nullable=False),
        sa.Column("note", sa.Text),
        sa.CheckConstraint(f"status IN ({OBJECTION_STATUSES})", name="ck_objection_changes_status"),
    )
    op.create_index("ix_objection_changes_objection_id", "objection_changes", ["objection_id"])
    op.create_table(
        "review_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uscc", sa.String(18), _fk("review_requests", "uscc", "enterprises.uscc"), nullable=False),
        sa.Column("score_id", sa.Uuid, _fk("review_requests", "score_id", "score_responses.id"), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column(
            "submitted_by_account_id", sa.Integer, _fk("review_requests", "submitted_by_account_id", "accounts.id"),
            nullable=False,
        ),
        sa.CheckConstraint("status IN ('submitted')", name="ck_review_requests_status"),
    )
    op.create_index("ix_review_requests_uscc", "review_requests", ["uscc"])
    op.create_index("ix_review_requests_score_id", "review_requests", ["score_id"])


def downgrade() -> None:
    for index, table in (
        ("ix_review_requests_score_id", "review_requests"),
        ("ix_review_requests_uscc", "review_requests"),
        ("ix_objection_changes_objection_id", "objection_changes"),
        ("ix_objections_uscc_status", "objections"),
        ("ix_loan_events_loan_id", "loan_events"),
        ("ix_loans_uscc", "loans"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("review_requests", "objection_changes", "objections", "loan_events", "loans"):
        op.drop_table(table)
