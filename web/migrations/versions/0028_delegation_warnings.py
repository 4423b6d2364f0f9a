"""the delegated steps' warnings (预警) and suspension: delegation_clocks, one row per delegated
step with the warning times and marks of its sign-for and completion clocks and, while its
assignment is suspended (挂起), its deadlines from before the stop; filled for the steps still
open (warning times at the time-limit settings' warning_ratio, 0.75 unless set; a clock already
urged as overdue, or a sign-for clock of a step signed for, owes no warning: marked)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 21:00:00

"""

import json

import sqlalchemy as sa
from alembic import op

import dispatch.core.db  # noqa: F401  (column types used by autogenerate)

# revision identifiers, used by Alembic.
revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

UTC = dispatch.core.db.UTCDateTime(timezone=True)
SIGN_UNWARNED = "sign_warned_at IS NULL"
COMPLETE_UNWARNED = "complete_warned_at IS NULL"


def _ratio(bind) -> float:
    row = bind.execute(sa.text("SELECT value FROM settings WHERE key = 'time_limits'")).first()
    value = row[0] if row is not None else None
    if isinstance(value, str):
        value = json.loads(value)
    ratio = (value or {}).get("warning_ratio", 0.75)
    return float(ratio) if isinstance(ratio, int | float) and 0 < ratio < 1 else 0.75


def upgrade():
    op.create_table(
        "delegation_clocks",
        sa.Column("delegation_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("sign_warn_at", UTC, nullable=False),
        sa.Column("sign_warned_at", UTC, nullable=True),
        sa.Column("complete_warn_at", UTC, nullable=False),
        sa.Column("complete_warned_at", UTC, nullable=True),
        sa.Column("stopped_sign_deadline", UTC, nullable=True),
        sa.Column("stopped_complete_deadline", UTC, nullable=True),
        sa.ForeignKeyConstraint(["delegation_id"], ["delegations.id"],
                                name=op.f("fk_delegation_clocks_delegation_id_delegations")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_delegation_clocks_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("delegation_id", name=op.f("pk_delegation_clocks")),
    )
    with op.batch_alter_table("delegation_clocks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delegation_clocks_ticket_id"), ["ticket_id"],
                              unique=False)
        batch_op.create_index("ix_delegation_clocks_sign_warn", ["sign_warn_at"], unique=False,
                              postgresql_where=sa.text(SIGN_UNWARNED),
                              sqlite_where=sa.text(SIGN_UNWARNED))
        batch_op.create_index("ix_delegation_clocks_complete_warn", ["complete_warn_at"],
                              unique=False, postgresql_where=sa.text(COMPLETE_UNWARNED),
                              sqlite_where=sa.text(COMPLETE_UNWARNED))
    bind = op.get_bind()
    ratio = _ratio(bind)
    delegations = sa.table("delegations", sa.column("id"), sa.column("ticket_id"),
                           sa.column("status"), sa.column("signed_at", UTC),
                           sa.column("delegated_at", UTC), sa.column("sign_deadline", UTC),
                           sa.column("complete_deadline", UTC), sa.column("closed_at", UTC),
                           sa.column("sign_overdue_at", UTC),
                           sa.column("complete_overdue_at", UTC))
    clocks = sa.table("delegation_clocks", sa.column("delegation_id"), sa.column("ticket_id"),
                      sa.column("sign_warn_at", UTC), sa.column("sign_warned_at", UTC),
                      sa.column("complete_warn_at", UTC), sa.column("complete_warned_at", UTC))
    rows = []
    for d in bind.execute(sa.select(delegations).where(delegations.c.closed_at.is_(None))):
        rows.append({
            "delegation_id": d.id, "ticket_id": d.ticket_id,
            "sign_warn_at": d.delegated_at + (d.sign_deadline - d.delegated_at) * ratio,
            "sign_warned_at": d.sign_overdue_at or (
                None if d.status == "dispatched" else d.signed_at or d.delegated_at),
            "complete_warn_at": d.delegated_at + (d.complete_deadline - d.delegated_at) * ratio,
            "complete_warned_at": d.complete_overdue_at})
    if rows:
        bind.execute(clocks.insert(), rows)


def downgrade():
    with op.batch_alter_table("delegation_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_delegation_clocks_complete_warn")
        batch_op.drop_index("ix_delegation_clocks_sign_warn")
        batch_op.drop_index(batch_op.f("ix_delegation_clocks_ticket_id"))
    op.drop_table("delegation_clocks")
