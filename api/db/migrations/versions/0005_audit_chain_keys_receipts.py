"""Hash-chained, append-only audit log; API key expiry; receipts of every change to a grant.

``audit_events`` gains ``seq``, ``prev_hash`` and ``row_hash`` (rows already there are chained in id order),
``audit_chain_head`` names the newest row, and triggers refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of
audit rows. ``api_keys.expires_at`` lets a key end on its own; ``authorisation_changes`` keeps the receipt of
each grant, change and revocation (existing grants get theirs from their own columns).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.audit_chain import GENESIS_HASH, HASHED_FIELDS, HEAD_ID, compute_row_hash

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
REFUSAL = "audit_events is append-only"

_audit = sa.table(
    "audit_events",
    sa.column("id", sa.Integer),
    sa.column("at", TS),
    sa.column("request_id", sa.String),
    sa.column("actor_account_id", sa.Integer),
    sa.column("actor_role", sa.String),
    sa.column("action", sa.String),
    sa.column("uscc", sa.String),
    sa.column("outcome", sa.String),
    sa.column("http_status", sa.Integer),
    sa.column("detail", sa.String),
    sa.column("seq", sa.Integer),
    sa.column("prev_hash", sa.String),
    sa.column("row_hash", sa.String),
)
_grants = sa.table(
    "authorisations",
    sa.column("id", sa.Integer),
    sa.column("scopes", sa.JSON),
    sa.column("granted_at", TS),
    sa.column("expires_at", TS),
    sa.column("revoked_at", TS),
    sa.column("granted_by_account_id", sa.Integer),
)
_changes = sa.table(
    "authorisation_changes",
    sa.column("authorisation_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("at", TS),
    sa.column("account_id", sa.Integer),
    sa.column("scopes", sa.JSON),
    sa.column("expires_at", TS),
)

_PG_TRIGGERS = [
    f"""CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{REFUSAL}: % refused', TG_OP; END $$""",
    """CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
    """CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()""",
]
_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, '{REFUSAL}: UPDATE refused'); END""",
    f"""CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, '{REFUSAL}: DELETE refused'); END""",
]


def _chain_existing_rows(connection: sa.Connection) -> tuple[int, str]:
    """Chain the rows already logged, in id order; return the newest seq and hash."""
    rows = connection.execute(sa.select(_audit).order_by(_audit.c.id)).mappings().all()
    prev_hash, updates = GENESIS_HASH, []
    for seq, row in enumerate(rows, start=1):
        row_hash = compute_row_hash({name: row[name] for name in HASHED_FIELDS}, prev_hash)
        updates.append({"row_id": row["id"], "seq": seq, "prev_hash": prev_hash, "row_hash": row_hash})
        prev_hash = row_hash
    if updates:
        connection.execute(
            _audit.update().where(_audit.c.id == sa.bindparam("row_id")).values(
                seq=sa.bindparam("seq"), prev_hash=sa.bindparam("prev_hash"), row_hash=sa.bindparam("row_hash")
            ),
            updates,
        )
    return len(updates), prev_hash


def _receipts_of_existing_grants(connection: sa.Connection) -> None:
    grants = connection.execute(sa.select(_grants)).mappings().all()
    receipts = []
    for grant in grants:
        common = {"authorisation_id": grant["id"], "scopes": grant["scopes"], "expires_at": grant["expires_at"]}
        receipts.append({**common, "kind": "granted", "at": grant["granted_at"],
                         "account_id": grant["granted_by_account_id"]})
        if grant["revoked_at"] is not None:
            receipts.append({**common, "kind": "revoked", "at": grant["revoked_at"], "account_id": None})
    if receipts:
        connection.execute(_changes.insert(), receipts)


def upgrade() -> None:
    connection = op.get_bind()
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("expires_at", TS, nullable=True))
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("seq", sa.Integer, nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(64), nullable=True))
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_chain_head_single"),
    )
    last_seq, last_hash = _chain_existing_rows(connection)
    connection.execute(
        sa.text("INSERT INTO audit_chain_head (id, seq, last_hash) VALUES (:id, :seq, :hash)"),
        {"id": HEAD_ID, "seq": last_seq, "hash": last_hash},
    )
    with op.batch_alter_table("audit_events") as batch:
        for name, kind in (("seq", sa.Integer()), ("prev_hash", sa.String(64)), ("row_hash", sa.String(64))):
            batch.alter_column(name, existing_type=kind, nullable=False)
        batch.create_index("ux_audit_events_seq", ["seq"], unique=True)
    op.create_table(
        "authorisation_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "authorisation_id", sa.Integer,
            sa.ForeignKey("authorisations.id", name="fk_authorisation_changes_authorisation_id"), nullable=False,
        ),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", name="fk_authorisation_changes_account_id")),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('granted', 'changed', 'revoked')", name="ck_authorisation_changes_kind"),
    )
    op.create_index("ix_authorisation_changes_authorisation_id", "authorisation_changes", ["authorisation_id"])
    _receipts_of_existing_grants(connection)
    for statement in _PG_TRIGGERS if connection.dialect.name == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_no_change ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER audit_events_no_delete")
        op.execute("DROP TRIGGER audit_events_no_update")
    op.drop_index("ix_authorisation_changes_authorisation_id", table_name="authorisation_changes")
    op.drop_table("authorisation_changes")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ux_audit_events_seq")
        for name in ("row_hash", "prev_hash", "seq"):
            batch.drop_column(name)
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("expires_at")
