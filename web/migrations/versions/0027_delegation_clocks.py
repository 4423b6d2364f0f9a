"""the delegated steps' own clocks swept: delegations.sign_overdue_at / complete_overdue_at, set
when the sweep urged the step for a passed sign-for or completion deadline (so it fires once)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 19:00:00

"""

import sqlalchemy as sa
from alembic import op

import dispatch.core.db  # noqa: F401  (column types used by autogenerate)

# revision identifiers, used by Alembic.
revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

UTC = dispatch.core.db.UTCDateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sign_overdue_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("complete_overdue_at", UTC, nullable=True))


def downgrade():
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.drop_column("complete_overdue_at")
        batch_op.drop_column("sign_overdue_at")
