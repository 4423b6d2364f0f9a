"""knowledge review: a version's review state (draft, published, rejected, superseded), who
reviewed it, when, and the note of a rejection

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 12:30:00

"""

import sqlalchemy as sa
from alembic import op

import dispatch.core.db  # noqa: F401  (column types used by autogenerate)

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    # Every version written before the review step was published at once.
    with op.batch_alter_table("kb_article_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review", sa.String(length=12),
                                      server_default="published", nullable=False))
        batch_op.add_column(sa.Column("reviewed_at", dispatch.core.db.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column("reviewed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("review_note", sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_kb_article_versions_reviewed_by_id_users"),
                                    "users", ["reviewed_by_id"], ["id"])


def downgrade():
    with op.batch_alter_table("kb_article_versions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_kb_article_versions_reviewed_by_id_users"),
                                 type_="foreignkey")
        batch_op.drop_column("review_note")
        batch_op.drop_column("reviewed_by_id")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("review")
