"""tickets: the old system's number of an imported ticket (`hotline tickets import`), unique

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07 15:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("import_ref", sa.String(length=64), nullable=True))
    op.create_index("ix_tickets_import_ref", "tickets", ["import_ref"], unique=True)


def downgrade():
    op.drop_index("ix_tickets_import_ref", table_name="tickets")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("import_ref")
