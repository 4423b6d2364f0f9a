"""web pick-up codes: the hashed 提取码 of each demand sent from the citizens' web page, and
attachments without an uploading user (the citizen's own photos)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 13:00:00

"""

import sqlalchemy as sa
from alembic import op

import dispatch.core.db  # noqa: F401  (column types used by autogenerate)

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "web_pickup_codes",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=160), nullable=False),
        sa.Column("phone_verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", dispatch.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_web_pickup_codes_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_web_pickup_codes")),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.alter_column("uploaded_by_id", existing_type=sa.Integer(), nullable=True)


def downgrade():
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.alter_column("uploaded_by_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("web_pickup_codes")
