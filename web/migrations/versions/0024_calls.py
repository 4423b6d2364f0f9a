"""calls (CTI): call records folded from the call centre's events, the events (one per call and
kind), agent states by extension, callback tries of missed calls

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 17:30:00

"""

import sqlalchemy as sa
from alembic import op

import dispatch.core.db  # noqa: F401  (column types used by autogenerate)

# revision identifiers, used by Alembic.
revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

UTC = dispatch.core.db.UTCDateTime(timezone=True)
OPEN = "missed_deadline IS NOT NULL AND called_back_at IS NULL"


def upgrade():
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("caller", sa.String(length=32), nullable=True),
        sa.Column("callee", sa.String(length=32), nullable=True),
        sa.Column("agent_extension", sa.String(length=12), nullable=True),
        sa.Column("agent_user_id", sa.Integer(), nullable=True),
        sa.Column("unknown_agent", sa.Boolean(), nullable=False),
        sa.Column("queue", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("rang_at", UTC, nullable=True),
        sa.Column("answered_at", UTC, nullable=True),
        sa.Column("transferred_at", UTC, nullable=True),
        sa.Column("transfer_to", sa.String(length=32), nullable=True),
        sa.Column("ended_at", UTC, nullable=True),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("recording_url", sa.String(length=500), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("missed_deadline", UTC, nullable=True),
        sa.Column("called_back_at", UTC, nullable=True),
        sa.Column("callback_tries", sa.Integer(), nullable=False),
        sa.Column("transfer_requested_at", UTC, nullable=True),
        sa.Column("transfer_requested_to", sa.String(length=32), nullable=True),
        sa.Column("transfer_mode", sa.String(length=10), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["agent_user_id"], ["users.id"],
                                name=op.f("fk_calls_agent_user_id_users")),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"],
                                name=op.f("fk_calls_contact_id_contacts")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_calls_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("call_id", name=op.f("uq_calls_call_id")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_caller"), ["caller"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_agent_extension"), ["agent_extension"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_calls_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_rang_at"), ["rang_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_ticket_id"), ["ticket_id"], unique=False)
        batch_op.create_index("ix_calls_missed_open", ["missed_deadline"], unique=False,
                              postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
    op.create_table(
        "call_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=12), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("payload", dispatch.core.db.JSONType, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_events")),
        sa.UniqueConstraint("call_id", "event", name=op.f("uq_call_events_call_id")),
    )
    op.create_table(
        "agent_states",
        sa.Column("extension", sa.String(length=12), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("since", UTC, nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_agent_states_user_id_users")),
        sa.PrimaryKeyConstraint("extension", name=op.f("pk_agent_states")),
    )
    op.create_table(
        "call_callback_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_pk", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["call_pk"], ["calls.id"],
                                name=op.f("fk_call_callback_attempts_call_pk_calls")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_call_callback_attempts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_callback_attempts")),
    )
    with op.batch_alter_table("call_callback_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_callback_attempts_call_pk"), ["call_pk"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("call_callback_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_callback_attempts_call_pk"))
    op.drop_table("call_callback_attempts")
    op.drop_table("agent_states")
    op.drop_table("call_events")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_missed_open")
        batch_op.drop_index(batch_op.f("ix_calls_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_calls_rang_at"))
        batch_op.drop_index(batch_op.f("ix_calls_state"))
        batch_op.drop_index(batch_op.f("ix_calls_agent_extension"))
        batch_op.drop_index(batch_op.f("ix_calls_caller"))
    op.drop_table("calls")
