"""personal data reads of contacts that belong to no ticket: ticket_id nullable, contact_id

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 08:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("personal_data_reads", schema=None) as batch_op:
        batch_op.alter_column("ticket_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_personal_data_reads_contact_id_contacts"),
                                    "contacts", ["contact_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_personal_data_reads_contact_id"), ["contact_id"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("personal_data_reads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_personal_data_reads_contact_id"))
        batch_op.drop_constraint(batch_op.f("fk_personal_data_reads_contact_id_contacts"),
                                 type_="foreignkey")
        batch_op.drop_column("contact_id")
    op.execute("DELETE FROM personal_data_reads WHERE ticket_id IS NULL")
    with op.batch_alter_table("personal_data_reads", schema=None) as batch_op:
        batch_op.alter_column("ticket_id", existing_type=sa.Integer(), nullable=False)
