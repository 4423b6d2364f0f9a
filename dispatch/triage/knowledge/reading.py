"""Reading articles: one version as a view (`ArticleView`, with what the article says about all
its versions), the version a direct answer may give on a day, and the validity days both
are read by. Only published versions are given as answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput, NotFound
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.triage.knowledge.tables import (
    DRAFT,
    PUBLISHED,
    REJECTED,
    SUPERSEDED,
    Article,
    ArticleVersion,
)

# How the page names a version's review state.
STATUS_NAMES = {DRAFT: "待审核", PUBLISHED: "已发布", REJECTED: "已退回", SUPERSEDED: "已被取代"}


@dataclass(frozen=True)
class ArticleView:
    """One version of an article, with what the article says about all its versions."""

    id: int
    version: int
    current_version: int
    versions: tuple[int, ...]
    title: str
    body: str
    category: str | None
    department: str | None
    valid_from: date | None
    valid_to: date | None
    active: bool
    created_at: datetime
    updated_at: datetime
    status: str = PUBLISHED
    drafts: tuple[int, ...] = ()
    review_note: str | None = None

    def valid_on(self, day: date) -> bool:
        """Whether this version holds on a given (local) day."""
        return holds_on(self.valid_from, self.valid_to, day)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"id": self.id, "version": self.version, "current_version": self.current_version,
                "versions": list(self.versions), "title": self.title, "body": self.body,
                "category": self.category, "department": self.department,
                "valid_from": iso_day(self.valid_from), "valid_to": iso_day(self.valid_to),
                "active": self.active, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat(), "status": self.status,
                "status_name": STATUS_NAMES.get(self.status, self.status),
                "drafts": list(self.drafts), "review_note": self.review_note}


def iso_day(d: date | None) -> str | None:
    """A day in ISO form, or None."""
    return d.isoformat() if d else None


def holds_on(valid_from: date | None, valid_to: date | None, day: date) -> bool:
    """Whether a validity period (either end open) holds on `day`."""
    return (valid_from is None or valid_from <= day) and (valid_to is None or day <= valid_to)


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar day of a UTC moment."""
    return moment.astimezone(LOCAL_TZ).date()


def article_by_id(session: Session, article_id: int) -> Article:
    """The article, or NotFound naming `article_id`."""
    article = session.get(Article, article_id)
    if article is None:
        raise NotFound(f"article_id: 知识条目 {article_id} 不存在", field="article_id")
    return article


def version_of(session: Session, article_id: int, number: int) -> ArticleVersion | None:
    """An article's version of that number, if it has one."""
    return session.scalar(select(ArticleVersion).where(
        ArticleVersion.article_id == article_id, ArticleVersion.version == number))


def get_article(session: Session, article_id: int, version: int | None = None) -> ArticleView:
    """One version of an article (default: the current one, or the latest draft of an article
    not yet published)."""
    article = article_by_id(session, article_id)
    rows = session.execute(
        select(ArticleVersion.version, ArticleVersion.review)
        .where(ArticleVersion.article_id == article.id).order_by(ArticleVersion.version)).all()
    versions = tuple(r.version for r in rows)
    number = version if version is not None else (article.current_version or max(versions))
    row = version_of(session, article.id, number)
    if row is None:
        raise NotFound(f"version: 知识条目 {article_id} 没有第 {number} 版", field="version")
    return ArticleView(
        id=article.id, version=row.version, current_version=article.current_version,
        versions=versions, title=row.title, body=row.body, category=article.category_code,
        department=article.department_code, valid_from=row.valid_from, valid_to=row.valid_to,
        active=article.active, created_at=row.created_at, updated_at=article.updated_at,
        status=row.review, drafts=tuple(r.version for r in rows if r.review == DRAFT),
        review_note=row.review_note)


def answer_version(session: Session, article_id: int, version: int | None,
                   day: date) -> ArticleView:
    """The article version a direct answer gives: it must exist, be in force and hold on
    `day`; refusals name the payload field at fault."""
    article = session.get(Article, article_id)
    if article is None:
        raise InvalidInput(f"article_id: 知识条目 {article_id} 不存在", field="article_id")
    if not article.active:
        raise InvalidInput(f"article_id: 知识条目 {article_id} 已停用，不能用于答复",
                           field="article_id")
    try:
        view = get_article(session, article_id, version)
    except NotFound:
        raise InvalidInput(f"article_version: 知识条目 {article_id} 没有第 {version} 版",
                           field="article_version") from None
    if view.status != PUBLISHED:
        raise InvalidInput(f"article_version: 知识条目 {article_id} 第 {view.version} 版"
                           f"{STATUS_NAMES.get(view.status, view.status)}，未发布，不能用于答复",
                           field="article_version")
    if not view.valid_on(day):
        raise InvalidInput(
            f"article_version: 知识条目 {article_id} 第 {view.version} 版在 {day.isoformat()} "
            f"不在有效期内（有效期 {iso_day(view.valid_from) or '不限'} 至 "
            f"{iso_day(view.valid_to) or '不限'}）", field="article_version")
    return view

