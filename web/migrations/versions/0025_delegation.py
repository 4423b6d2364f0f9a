"""grid governance: delegations (下派, 村受理·镇审核) of an assignment to a community, a village
or a grid worker, with their own clocks and review; tickets.disputed_at for the hotline
office's 定责 queue; attachments.ticket_id nullable (a grid worker's patrol photo before the
report that names it); the statistics' counts of patrol reports (主动发现量) and of those
handled on the spot (自办率): stat_tickets.patrol/self_handled, stat_daily.patrol/self_handled

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 17:30:00

"""

import sqlalchemy as sa
from alembic import op

import dispatch.core.db  # noqa: F401  (column types used by autogenerate)

# revision identifiers, used by Alembic.
revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

UTC = dispatch.core.db.UTCDateTime(timezone=True)


def upgrade():
    op.create_table(
        "delegations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("from_department_code", sa.String(length=40), nullable=False),
        sa.Column("department_code", sa.String(length=40), nullable=True),
        sa.Column("grid_worker_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("delegated_at", UTC, nullable=False),
        sa.Column("delegated_by_id", sa.Integer(), nullable=True),
        sa.Column("sign_deadline", UTC, nullable=False),
        sa.Column("signed_at", UTC, nullable=True),
        sa.Column("complete_deadline", UTC, nullable=False),
        sa.Column("completed_at", UTC, nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("reviewed_at", UTC, nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("returned_at", UTC, nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"],
                                name=op.f("fk_delegations_assignment_id_assignments")),
        sa.ForeignKeyConstraint(["delegated_by_id"], ["users.id"],
                                name=op.f("fk_delegations_delegated_by_id_users")),
        sa.ForeignKeyConstraint(["department_code"], ["departments.code"],
                                name=op.f("fk_delegations_department_code_departments")),
        sa.ForeignKeyConstraint(["from_department_code"], ["departments.code"],
                                name=op.f("fk_delegations_from_department_code_departments")),
        sa.ForeignKeyConstraint(["grid_worker_id"], ["users.id"],
                                name=op.f("fk_delegations_grid_worker_id_users")),
        sa.ForeignKeyConstraint(["parent_id"], ["delegations.id"],
                                name=op.f("fk_delegations_parent_id_delegations")),
        sa.ForeignKeyConstraint(["reviewed_by_id"], ["users.id"],
                                name=op.f("fk_delegations_reviewed_by_id_users")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_delegations_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegations")),
    )
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delegations_ticket_id"), ["ticket_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_delegations_assignment_id"), ["assignment_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_delegations_department_code"),
                              ["department_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_delegations_grid_worker_id"), ["grid_worker_id"],
                              unique=False)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disputed_at", UTC, nullable=True))
        batch_op.create_index(batch_op.f("ix_tickets_disputed_at"), ["disputed_at"],
                              unique=False)
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.alter_column("ticket_id", existing_type=sa.Integer(), nullable=True)
    # No patrol report before this revision: every existing row counts none.
    with op.batch_alter_table("stat_tickets", schema=None) as batch_op:
        for name in ("patrol", "self_handled"):
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=False,
                                          server_default=sa.false()))
    with op.batch_alter_table("stat_daily", schema=None) as batch_op:
        for name in ("patrol", "self_handled"):
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False,
                                          server_default="0"))


def downgrade():
    for table in ("stat_daily", "stat_tickets"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("self_handled")
            batch_op.drop_column("patrol")
    op.execute("DELETE FROM attachments WHERE ticket_id IS NULL")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.alter_column("ticket_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_disputed_at"))
        batch_op.drop_column("disputed_at")
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegations_grid_worker_id"))
        batch_op.drop_index(batch_op.f("ix_delegations_department_code"))
        batch_op.drop_index(batch_op.f("ix_delegations_assignment_id"))
        batch_op.drop_index(batch_op.f("ix_delegations_ticket_id"))
    op.drop_table("delegations")
