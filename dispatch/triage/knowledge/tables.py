"""The knowledge base's tables: an article (who keeps it, which version is current) and its
versions, whose text is never changed once written; only a draft's review (published, rejected,
superseded) is written later."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.core.db import Base, UTCDateTime, utcnow

MAX_TITLE = 100
MAX_BODY = 4000
MAX_NOTE = 200

# A version's review state: a department's editor writes drafts, the hotline office publishes
# (or rejects) them; an admin's own versions are published at once. A draft left behind by a
# newer published version is superseded.
DRAFT = "draft"
PUBLISHED = "published"
REJECTED = "rejected"
SUPERSEDED = "superseded"
STATUSES = (DRAFT, PUBLISHED, REJECTED, SUPERSEDED)


class Article(Base):
    """A knowledge-base article (知识条目): who keeps it and which version is current (the
    published version in force; 0 while the article has no published version yet)."""

    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A plain code, checked against `departments` when written (departments belong to grid/).
    department_code: Mapped[str | None] = mapped_column(String(40), index=True)
    category_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"), index=True)
    current_version: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ArticleVersion(Base):
    """One version of an article; its text never changes once written, its review may."""

    __tablename__ = "kb_article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    body: Mapped[str] = mapped_column(Text)
    # jieba tokens (search mode) of title and body, space-joined.
    keywords: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The review state (named so as not to be taken for a ticket's status).
    review: Mapped[str] = mapped_column(String(12), default=PUBLISHED, server_default=PUBLISHED)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    review_note: Mapped[str | None] = mapped_column(String(MAX_NOTE))
