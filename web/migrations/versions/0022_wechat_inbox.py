"""wechat_inbox: WeChat messages held in a burst (stored by MsgId, answered at once, processed
off the request; the ticket number follows as a customer-service message)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 16:00:00

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import dispatch.core.db  # noqa: F401  (column types used by autogenerate)

# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "wechat_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msg_id", sa.String(length=64), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("received_at", dispatch.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "message",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("processed_at", dispatch.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ticket_number", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_inbox")),
        sa.UniqueConstraint("msg_id", name=op.f("uq_wechat_inbox_msg_id")),
    )
    with op.batch_alter_table("wechat_inbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wechat_inbox_openid"), ["openid"], unique=False)
        batch_op.create_index(
            "ix_wechat_inbox_waiting",
            ["id"],
            unique=False,
            postgresql_where=sa.text("processed_at IS NULL"),
            sqlite_where=sa.text("processed_at IS NULL"),
        )


def downgrade():
    with op.batch_alter_table("wechat_inbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_wechat_inbox_waiting",
            postgresql_where=sa.text("processed_at IS NULL"),
            sqlite_where=sa.text("processed_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_wechat_inbox_openid"))
    op.drop_table("wechat_inbox")
