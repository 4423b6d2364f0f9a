"""suspensions (挂起): requests to stop an assignment's completion clock until a date, their
decisions and ends; assignments.suspended_until while an approved one stops the clock

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 16:00:00

"""

import sqlalchemy as sa
from alembic import op

import dispatch.core.db  # noqa: F401  (column types used by autogenerate)

# revision identifiers, used by Alembic.
revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "suspensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", dispatch.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("requested_at", dispatch.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", dispatch.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("old_deadline", dispatch.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("old_warn_at", dispatch.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", dispatch.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("new_deadline", dispatch.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"],
                                name=op.f("fk_suspensions_assignment_id_assignments")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"],
                                name=op.f("fk_suspensions_decided_by_id_users")),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"],
                                name=op.f("fk_suspensions_requested_by_id_users")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_suspensions_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suspensions")),
    )
    with op.batch_alter_table("suspensions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_suspensions_assignment_id"), ["assignment_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_suspensions_ticket_id"), ["ticket_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_suspensions_status"), ["status"], unique=False)
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suspended_until",
                                      dispatch.core.db.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade():
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("suspended_until")
    with op.batch_alter_table("suspensions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suspensions_status"))
        batch_op.drop_index(batch_op.f("ix_suspensions_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_suspensions_assignment_id"))
    op.drop_table("suspensions")
