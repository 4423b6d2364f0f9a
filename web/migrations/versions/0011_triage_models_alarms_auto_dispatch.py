"""triage: learned classifier versions, emergency alarms on tickets, auto-dispatched assignments

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 05:00:00

"""

import sqlalchemy as sa
from alembic import op

import dispatch.core.db  # noqa: F401  (column types used by autogenerate)

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "classifier_models",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", dispatch.core.db.UTCDateTime(), nullable=False),
        sa.Column("completed_at", dispatch.core.db.UTCDateTime(), nullable=True),
        sa.Column("activated_at", dispatch.core.db.UTCDateTime(), nullable=True),
        sa.Column("trained_by_id", sa.Integer(), nullable=True),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("heldout", sa.Integer(), nullable=False),
        sa.Column("figures", sa.JSON().with_variant(
            sa.dialects.postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("artefact", sa.LargeBinary(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["trained_by_id"], ["users.id"],
                                name=op.f("fk_classifier_models_trained_by_id_users")),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_classifier_models")),
    )
    with op.batch_alter_table("classifier_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_classifier_models_active"), ["active"], unique=False)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alarm_raised_at", dispatch.core.db.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column("alarm_acknowledged_at", dispatch.core.db.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column("alarm_acknowledged_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("alarm_escalated_at", dispatch.core.db.UTCDateTime(),
                                      nullable=True))
        batch_op.create_index(batch_op.f("ix_tickets_alarm_raised_at"), ["alarm_raised_at"],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_tickets_alarm_acknowledged_by_id_users"),
                                    "users", ["alarm_acknowledged_by_id"], ["id"])
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_dispatched", sa.Boolean(),
                                      server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("auto_dispatched")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_tickets_alarm_acknowledged_by_id_users"),
                                 type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_tickets_alarm_raised_at"))
        batch_op.drop_column("alarm_escalated_at")
        batch_op.drop_column("alarm_acknowledged_by_id")
        batch_op.drop_column("alarm_acknowledged_at")
        batch_op.drop_column("alarm_raised_at")
    with op.batch_alter_table("classifier_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_classifier_models_active"))
    op.drop_table("classifier_models")
