"""Data scopes: a grant names which non-public sources (tax, social insurance, housing fund, utilities) may feed
the bank's answer, and each stored score says which the grant left out.

Grants and receipts stored before scopes existed were consents to every source, so they gain all four data scopes;
``score_responses.withheld_scopes`` is null for answers given before (nothing was withheld then).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

DATA_SCOPES = ("tax", "social_insurance", "housing_fund", "utilities")
"""As ``scoring.scopes.DATA_SCOPES`` on the day of this migration (a migration does not follow later code)."""

_TABLES = ("authorisations", "authorisation_changes")


def _rescope(table_name: str, change: str) -> None:
    table = sa.table(table_name, sa.column("id", sa.Integer), sa.column("scopes", sa.JSON))
    bind = op.get_bind()
    for row_id, scopes in bind.execute(sa.select(table.c.id, table.c.scopes)).all():
        old = list(scopes or [])
        new = ([*old, *(s for s in DATA_SCOPES if s not in old)] if change == "add"
               else [s for s in old if s not in DATA_SCOPES])
        if new != old:
            bind.execute(table.update().where(table.c.id == row_id).values(scopes=new))


def upgrade() -> None:
    with op.batch_alter_table("score_responses") as batch:
        batch.add_column(sa.Column("withheld_scopes", sa.JSON, nullable=True))
    for name in _TABLES:
        _rescope(name, "add")


def downgrade() -> None:
    for name in _TABLES:
        _rescope(name, "remove")
    with op.batch_alter_table("score_responses") as batch:
        batch.drop_column("withheld_scopes")
