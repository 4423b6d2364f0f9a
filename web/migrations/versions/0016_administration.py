"""administration: the log of admin changes; users' forced password change and extension;
departments' parent level and SMS phones

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 12:00:00

"""

import sqlalchemy as sa
from alembic import op

import dispatch.core.db  # noqa: F401  (column types used by autogenerate)

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    op.create_table(
        "admin_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", dispatch.core.db.UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=30), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"],
                                name=op.f("fk_admin_changes_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_changes")),
    )
    with op.batch_alter_table("admin_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_changes_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_admin_changes_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_admin_changes_subject"), ["subject"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(),
                                      server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("extension", sa.String(length=12), nullable=True))
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("phones", JSON, nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_departments_parent_code_departments"),
                                    "departments", ["parent_code"], ["code"])
        batch_op.create_index(batch_op.f("ix_departments_parent_code"), ["parent_code"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_departments_parent_code"))
        batch_op.drop_constraint(batch_op.f("fk_departments_parent_code_departments"),
                                 type_="foreignkey")
        batch_op.drop_column("phones")
        batch_op.drop_column("parent_code")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("extension")
        batch_op.drop_column("must_change_password")
    with op.batch_alter_table("admin_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_changes_subject"))
        batch_op.drop_index(batch_op.f("ix_admin_changes_actor_id"))
        batch_op.drop_index(batch_op.f("ix_admin_changes_at"))
    op.drop_table("admin_changes")
