"""statistics: 智能派单 and alarm acknowledgement in the facts and the daily rollups

The ticket facts learn whether the ticket's first lead assignment was automatic and whether it
stood (not returned, not taken back, the lead not moved), and its alarm: the day and moment it
was raised and how its acknowledgement went (on_time, late, open); stat_daily counts them
(auto_dispatched, auto_accurate, alarm_on_time, alarm_late). As in 0010, the facts and rollups
are emptied, and `hotline db upgrade` builds them again right after the migrations (after a bare
`flask db upgrade`, run `hotline stats rebuild`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 07:00:00

"""

import sqlalchemy as sa
from alembic import op

import dispatch.core.db  # noqa: F401  (column types used by autogenerate)

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


DERIVED = ("stat_daily", "stat_pending", "stat_reviews", "stat_assignments", "stat_tickets")
COUNTERS = ("auto_dispatched", "auto_accurate", "alarm_on_time", "alarm_late")
ALARMED = "alarm_day IS NOT NULL"


def upgrade():
    for table in DERIVED:
        op.execute(sa.text(f"DELETE FROM {table}"))
    op.execute(sa.text("UPDATE stat_head SET rebuilt_at = NULL"))
    with op.batch_alter_table("stat_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_dispatched", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("auto_accurate", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("alarm_day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("alarm_raised_at", dispatch.core.db.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column("alarm_state", sa.String(length=8), nullable=True))
        batch_op.create_index(
            "ix_stat_tickets_alarm_day",
            ["alarm_day", "ticket_id"],
            unique=False,
            postgresql_include=["alarm_state", "alarm_raised_at"],
            postgresql_where=sa.text(ALARMED),
            sqlite_where=sa.text(ALARMED),
        )
    with op.batch_alter_table("stat_daily", schema=None) as batch_op:
        for name in COUNTERS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False,
                                          server_default="0"))


def downgrade():
    for table in DERIVED:
        op.execute(sa.text(f"DELETE FROM {table}"))
    op.execute(sa.text("UPDATE stat_head SET rebuilt_at = NULL"))
    with op.batch_alter_table("stat_daily", schema=None) as batch_op:
        for name in reversed(COUNTERS):
            batch_op.drop_column(name)
    with op.batch_alter_table("stat_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_stat_tickets_alarm_day")
        for name in ("alarm_state", "alarm_raised_at", "alarm_day", "auto_accurate",
                     "auto_dispatched"):
            batch_op.drop_column(name)
