"""Cases: pseudonymous persons, cases, items, linked protections, timeline, notices, deadlines.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "case_persons",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pseudonym", sa.String(120), nullable=False),
        sa.Column("contact", sa.Text),
        sa.Column("under_18", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "cases",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("public_id", sa.String(16), nullable=False, unique=True),
        sa.Column("person_id", BigId, sa.ForeignKey("case_persons.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("jurisdictions", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("route", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(160), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "case_items",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", BigId, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("url", sa.Text),
        sa.Column("filename", sa.String(255)),
        sa.Column("captured_at", sa.String(32)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("size", sa.Integer),
        sa.Column("query_fp", sa.LargeBinary),
        sa.Column("verdict", sa.String(32)),
        sa.Column("protected_case_id", sa.String(40)),
        sa.Column("bank", sa.String(64)),
        sa.Column("fingerprint_uid", sa.String(32)),
        sa.Column("photo", sa.Integer),
        sa.Column("edited_fraction", sa.Float),
        sa.Column("scores", sa.Text, nullable=False),
        sa.Column("thresholds", sa.Text, nullable=False),
        sa.Column("algorithm", sa.Text, nullable=False),
        sa.Column("edit_map_png", sa.LargeBinary),
        sa.Column("report_html", sa.Text),
        sa.Column("media", sa.String(80)),
        sa.Column("decision", sa.String(16)),
        sa.Column("decision_reason", sa.Text),
        sa.Column("decided_by", sa.String(160)),
        sa.Column("decided_at", sa.String(32)),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "case_protections",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", BigId, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("protection_case_id", sa.String(40), nullable=False),
        sa.Column("linked_by", sa.String(160), nullable=False),
        sa.Column("linked_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("case_id", "protection_case_id", name="uq_case_protection"),
    )
    op.create_table(
        "case_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", BigId, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(160), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("artefact", sa.String(200), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("custody", sa.Boolean, nullable=False),
    )
    op.create_table(
        "case_notices",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", BigId, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("platform", sa.String(120), nullable=False),
        sa.Column("item_ids", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(160), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "case_deadlines",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", BigId, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("notice_id", BigId, sa.ForeignKey("case_notices.id")),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("starts_at", sa.String(32), nullable=False),
        sa.Column("warn_at", sa.String(32)),
        sa.Column("due_at", sa.String(32), nullable=False),
        sa.Column("closed_at", sa.String(32)),
        sa.Column("closed_by", sa.String(160)),
    )


def downgrade() -> None:
    for t in ("case_deadlines", "case_notices", "case_events", "case_protections", "case_items", "cases",
              "case_persons"):
        op.drop_table(t)
