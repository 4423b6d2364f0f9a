"""reference_revision: the shared revision of the reference data every process keeps
(dispatch/core/memo.py): one row, a new token at each committed change of settings, categories,
rules, catalogue, roster, users, calendar or grid

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 15:00:00

"""

import sqlalchemy as sa
from alembic import op

import dispatch.core.db  # noqa: F401  (column types used by autogenerate)

# revision identifiers, used by Alembic.
revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reference_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("changed_at", dispatch.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_revision")),
    )


def downgrade():
    op.drop_table("reference_revision")
