"""What the knowledge-base admin page reads: the articles by department (filtered, paged), the
articles whose validity ends soon or has ended, and two versions side by side with a word-level
diff (computed here with difflib over jieba words, so the page only paints it)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import Select, and_, exists, func, or_, select, text
from sqlalchemy.orm import Session, aliased

from dispatch.core.errors import InvalidInput
from dispatch.core.models import Category
from dispatch.triage.knowledge.reading import STATUS_NAMES, get_article, iso_day
from dispatch.triage.knowledge.tables import DRAFT, Article, ArticleVersion
from dispatch.triage.segmenter import segmenter

EXPIRY_DAYS = 30  # an article's validity ending within this many days is warned about
ListStatus = Literal["published", "pending", "unpublished", "retired", "expiring"]
LIST_STATUSES: dict[str, str] = {
    "published": "已发布（使用中）", "pending": "有待审核的草稿", "unpublished": "尚未发布",
    "retired": "已停用", "expiring": "30 天内到期或已过期",
}


@dataclass(frozen=True)
class ArticleFilter:
    """The list's filters (each optional)."""

    department: str | None = None
    category: str | None = None
    status: str | None = None
    text: str | None = None


def _names(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    # departments belong to grid/, which the domain does not import: ask the table itself.
    departments = {str(code): str(name) for code, name in session.execute(
        text("SELECT code, name FROM departments"))}
    categories = {code: name for code, name in session.execute(
        select(Category.code, Category.name)).tuples()}
    return departments, categories


def _latest() -> Any:
    """The number of each article's newest version."""
    return (select(ArticleVersion.article_id, func.max(ArticleVersion.version).label("latest"))
            .group_by(ArticleVersion.article_id).subquery())


def _filtered(query: Select[Any], shown: Any, wanted: ArticleFilter, today: date) -> Select[Any]:
    if wanted.department:
        query = query.where(Article.department_code == wanted.department)
    if wanted.category:
        query = query.where(or_(Article.category_code == wanted.category,
                                Article.category_code.startswith(wanted.category + ".",
                                                                 autoescape=True)))
    if wanted.text:
        query = query.where(or_(shown.title.contains(wanted.text, autoescape=True),
                                shown.body.contains(wanted.text, autoescape=True)))
    pending = exists().where(ArticleVersion.article_id == Article.id,
                             ArticleVersion.review == DRAFT)
    status = wanted.status
    if status == "published":
        query = query.where(Article.active.is_(True), Article.current_version > 0)
    elif status == "pending":
        query = query.where(pending)
    elif status == "unpublished":
        query = query.where(Article.current_version == 0)
    elif status == "retired":
        query = query.where(Article.active.is_(False))
    elif status == "expiring":
        query = query.where(Article.active.is_(True), Article.current_version > 0,
                            shown.valid_to.is_not(None),
                            shown.valid_to <= today + timedelta(days=EXPIRY_DAYS))
    elif status:
        raise InvalidInput(f"status: 须为以下之一：{'、'.join(LIST_STATUSES)}", field="status")
    return query


def list_articles(session: Session, wanted: ArticleFilter, *, today: date, page: int = 1,
                  per_page: int = 20) -> dict[str, Any]:
    """The articles (the current version's title, else the newest draft's), filtered and
    paged, newest change first; each with its department's and category's names."""
    latest = _latest()
    shown = aliased(ArticleVersion)
    number = func.coalesce(func.nullif(Article.current_version, 0), latest.c.latest)
    base = (select(Article, shown)
            .join(latest, latest.c.article_id == Article.id)
            .join(shown, and_(shown.article_id == Article.id, shown.version == number)))
    query = _filtered(base, shown, wanted, today)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Article.updated_at.desc(), Article.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).all()
    ids = [a.id for a, _ in rows]
    drafts: dict[int, list[int]] = {}
    for article_id, version in session.execute(
            select(ArticleVersion.article_id, ArticleVersion.version)
            .where(ArticleVersion.article_id.in_(ids), ArticleVersion.review == DRAFT)
            .order_by(ArticleVersion.version)).tuples():
        drafts.setdefault(article_id, []).append(version)
    departments, categories = _names(session)
    items = []
    for article, version in rows:
        items.append({
            "id": article.id, "title": version.title, "version": version.version,
            "current_version": article.current_version, "status": version.review,
            "status_name": STATUS_NAMES.get(version.review, version.review),
            "drafts": drafts.get(article.id, []), "active": article.active,
            "department": article.department_code,
            "department_name": departments.get(article.department_code or "", None),
            "category": article.category_code,
            "category_name": categories.get(article.category_code or "", None),
            "valid_from": iso_day(version.valid_from), "valid_to": iso_day(version.valid_to),
            "expiry": _expiry(version.valid_to, today) if article.current_version else None,
            "updated_at": article.updated_at.isoformat()})
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def _expiry(valid_to: date | None, today: date) -> dict[str, Any] | None:
    if valid_to is None or valid_to > today + timedelta(days=EXPIRY_DAYS):
        return None
    days = (valid_to - today).days
    return {"valid_to": valid_to.isoformat(), "days_left": days, "expired": days < 0,
            "text": f"已于 {valid_to.isoformat()} 过期" if days < 0
            else ("今天到期" if days == 0 else f"{days} 天后到期（{valid_to.isoformat()}）")}


def expiring_articles(session: Session, *, today: date,
                      department: str | None = None) -> list[dict[str, Any]]:
    """Articles in use whose current version's validity ends within EXPIRY_DAYS days or has
    ended, soonest first."""
    query = (select(Article, ArticleVersion)
             .join(ArticleVersion, and_(ArticleVersion.article_id == Article.id,
                                        ArticleVersion.version == Article.current_version))
             .where(Article.active.is_(True), ArticleVersion.valid_to.is_not(None),
                    ArticleVersion.valid_to <= today + timedelta(days=EXPIRY_DAYS)))
    if department:
        query = query.where(Article.department_code == department)
    departments, _ = _names(session)
    out = []
    for article, version in session.execute(
            query.order_by(ArticleVersion.valid_to, Article.id)).all():
        assert version.valid_to is not None
        out.append({"id": article.id, "title": version.title, "version": version.version,
                    "department": article.department_code,
                    "department_name": departments.get(article.department_code or ""),
                    **(_expiry(version.valid_to, today) or {})})
    return out


# ---------------------------------------------------------------- diff


def _words(value: str) -> list[str]:
    """The text cut into words (jieba, precise mode: the pieces join back to the text)."""
    return list(segmenter().lcut(value, HMM=False)) if value else []


def word_diff(before: str, after: str) -> list[dict[str, str]]:
    """The changes from `before` to `after`, word by word: runs of equal, deleted and
    inserted text in order (a replacement is its deletion then its insertion)."""
    old, new = _words(before), _words(after)
    runs: list[dict[str, str]] = []

    def add(op: str, piece: str) -> None:
        if not piece:
            return
        if runs and runs[-1]["op"] == op:
            runs[-1]["text"] += piece
        else:
            runs.append({"op": op, "text": piece})

    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("equal", "".join(old[i1:i2]))
        else:
            add("delete", "".join(old[i1:i2]))
            add("insert", "".join(new[j1:j2]))
    return runs


def diff_versions(session: Session, article_id: int, old: int | None,
                  new: int | None) -> dict[str, Any]:
    """Two versions side by side (default: the current one against the newest) with the
    word-level changes of the title and body and the validity dates before → after."""
    first = get_article(session, article_id)
    newest = max(first.versions)
    after_number = new if new is not None else newest
    before_number = old if old is not None else (
        first.current_version if first.current_version and first.current_version
        != after_number else max(after_number - 1, 1))
    before = get_article(session, article_id, before_number)
    after = get_article(session, article_id, after_number)
    fields = {}
    for name in ("valid_from", "valid_to"):
        a, b = iso_day(getattr(before, name)), iso_day(getattr(after, name))
        fields[name] = {"before": a, "after": b, "changed": a != b}
    return {"article_id": article_id, "before": before.as_dict(), "after": after.as_dict(),
            "title": word_diff(before.title, after.title),
            "body": word_diff(before.body, after.body), "fields": fields,
            "changed": before.title != after.title or before.body != after.body
            or any(f["changed"] for f in fields.values())}
