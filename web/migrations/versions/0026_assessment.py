"""assessment (考核) and appeals (申诉): a department's appeals against one ticket's effect on its
monthly assessment with the office's decisions; each publication of a month's assessment with its
locked snapshot and number (re-publications recorded)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 18:00:00

"""

import sqlalchemy as sa
from alembic import op

import dispatch.core.db  # noqa: F401  (column types used by autogenerate)

# revision identifiers, used by Alembic.
revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "appeals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("department_code", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attachments", dispatch.core.db.JSONType, nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("filed_at", dispatch.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("filed_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", dispatch.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"],
                                name=op.f("fk_appeals_decided_by_id_users")),
        sa.ForeignKeyConstraint(["department_code"], ["departments.code"],
                                name=op.f("fk_appeals_department_code_departments")),
        sa.ForeignKeyConstraint(["filed_by_id"], ["users.id"],
                                name=op.f("fk_appeals_filed_by_id_users")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_appeals_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
        sa.UniqueConstraint("month", "department_code", "ticket_id",
                            name="uq_appeals_month_department_ticket"),
    )
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appeals_month"), ["month"], unique=False)
        batch_op.create_index(batch_op.f("ix_appeals_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_appeals_ticket_id"), ["ticket_id"], unique=False)
    op.create_table(
        "assessment_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("published_at", dispatch.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("snapshot", dispatch.core.db.JSONType, nullable=False),
        sa.ForeignKeyConstraint(["published_by_id"], ["users.id"],
                                name=op.f("fk_assessment_publications_published_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_publications")),
        sa.UniqueConstraint("month", "number", name="uq_assessment_publications_month_number"),
    )
    with op.batch_alter_table("assessment_publications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assessment_publications_month"), ["month"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("assessment_publications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessment_publications_month"))
    op.drop_table("assessment_publications")
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appeals_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_appeals_state"))
        batch_op.drop_index(batch_op.f("ix_appeals_month"))
    op.drop_table("appeals")
