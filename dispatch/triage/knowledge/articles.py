"""Writing articles: create, revise (a new version), retire, and the review step (a
department's editor, a handler, writes drafts; the hotline office, an admin, publishes or
rejects them; an admin's own versions are published at once); the demo county's articles.
Reading them (one version as a view, the version an answer gives) is `reading`'s.

Only published versions are ever current, so only they are searched and given as answers.
Every change is recorded in the log of admin changes (subject "kb_article")."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, StringConstraints, ValidationError, ValidationInfo, field_validator
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dispatch.core.audit import record_change
from dispatch.core.commands import Code, Strict, validation_error
from dispatch.core.errors import Forbidden, InvalidInput, NotFound
from dispatch.core.models import Category
from dispatch.core.vocab import Role
from dispatch.triage.knowledge.reading import (
    STATUS_NAMES,
    ArticleView,
    article_by_id,
    get_article,
    iso_day,
    version_of,
)
from dispatch.triage.knowledge.tables import (
    DRAFT,
    MAX_BODY,
    MAX_NOTE,
    MAX_TITLE,
    PUBLISHED,
    REJECTED,
    SUPERSEDED,
    Article,
    ArticleVersion,
)
from dispatch.triage.knowledge.words import tokens

if TYPE_CHECKING:
    from dispatch.core.actors import Actor

DEMO_FILE = Path(__file__).resolve().parents[3] / "grid" / "data" / "demo_knowledge.json"


# ---------------------------------------------------------------- input


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_BODY)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE)]


class ArticleIn(Strict):
    """A new article, or a new version of one (fields left out of a revision are kept)."""

    title: Title
    body: Body
    category: Code | None = Field(None, description="category code (事项分类)")
    department: Code | None = Field(
        None, description="department code; a handler's own department by default")
    valid_from: date | None = Field(None, description="first day the answer holds")
    valid_to: date | None = Field(None, description="last day the answer holds")

    @field_validator("valid_to", mode="after")
    @classmethod
    def _period(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("valid_from")
        if value is not None and start is not None and value < start:
            raise ValueError("不能早于生效日期 valid_from")
        return value


def _parse(data: ArticleIn | dict[str, Any]) -> ArticleIn:
    if isinstance(data, ArticleIn):
        return data
    try:
        raw = json.dumps(data, ensure_ascii=False,
                         default=lambda v: v.isoformat() if isinstance(v, date) else str(v))
        return ArticleIn.model_validate_json(raw)
    except ValidationError as exc:
        raise validation_error(exc) from exc


# ---------------------------------------------------------------- writing


def _department_exists(session: Session, code: str) -> bool:
    # departments belong to grid/, which the domain does not import: ask the table itself.
    row = session.execute(text("SELECT active FROM departments WHERE code = :code"),
                          {"code": code}).first()
    return row is not None and bool(row[0])


def _check_refs(session: Session, category: str | None, department: str | None) -> None:
    if category is not None:
        found = session.get(Category, category)
        if found is None or not found.active:
            raise InvalidInput(f"category: 没有启用中的分类“{category}”", field="category")
    if department is not None and not _department_exists(session, department):
        raise InvalidInput(f"department: 没有启用中的部门“{department}”",
                           field="department")


def _may_write(actor: Actor, department: str | None) -> None:
    if actor.role == Role.ADMIN:
        return
    if actor.role == Role.HANDLER and actor.department_code and \
            department == actor.department_code:
        return
    if actor.role == Role.HANDLER:
        raise Forbidden("承办人员只能编写本部门的知识条目")
    raise Forbidden("角色“{role}”无权编写知识库（仅管理员和承办人员可以）",
                    terms={"role": ("role", actor.role)})


def _publishes(actor: Actor) -> bool:
    """Whether what this actor writes is published at once (the hotline office's own)."""
    return actor.role == Role.ADMIN


def _add_version(session: Session, article: Article, number: int, body: ArticleIn,
                 actor: Actor, now: datetime) -> ArticleVersion:
    published = _publishes(actor)
    version = ArticleVersion(
        article_id=article.id, version=number, title=body.title, body=body.body,
        keywords=" ".join(tokens(body.title) + tokens(body.body)),
        valid_from=body.valid_from, valid_to=body.valid_to, created_at=now,
        created_by_id=actor.id, review=PUBLISHED if published else DRAFT,
        reviewed_at=now if published else None, reviewed_by_id=actor.id if published else None)
    session.add(version)
    return version


def _snapshot(article: Article, version: ArticleVersion | None) -> dict[str, Any]:
    """What the log of admin changes keeps of an article and one of its versions."""
    out: dict[str, Any] = {"department": article.department_code,
                           "category": article.category_code, "active": article.active,
                           "current_version": article.current_version}
    if version is not None:
        out.update(version=version.version, status=version.review, title=version.title,
                   body=version.body, valid_from=iso_day(version.valid_from),
                   valid_to=iso_day(version.valid_to))
    return out


def create_article(session: Session, data: ArticleIn | dict[str, Any], actor: Actor,
                   now: datetime) -> ArticleView:
    """Add an article with its first version (an admin's published at once, a department
    editor's a draft for the hotline office to review); nothing is written when refused."""
    body = _parse(data)
    department = body.department
    if department is None and actor.role == Role.HANDLER:
        department = actor.department_code
    _may_write(actor, department)
    _check_refs(session, body.category, department)
    article = Article(department_code=department, category_code=body.category,
                      current_version=1 if _publishes(actor) else 0, active=True,
                      created_at=now, updated_at=now, created_by_id=actor.id)
    session.add(article)
    session.flush()
    version = _add_version(session, article, 1, body, actor, now)
    session.flush()
    record_change(session, actor.id, "kb_article", article.id,
                  "create" if _publishes(actor) else "draft", None,
                  _snapshot(article, version), at=now)
    return get_article(session, article.id, 1)


def _last_number(session: Session, article_id: int) -> int:
    return session.scalar(select(func.max(ArticleVersion.version))
                          .where(ArticleVersion.article_id == article_id)) or 0


def revise_article(session: Session, article_id: int, data: ArticleIn | dict[str, Any],
                   actor: Actor, now: datetime) -> ArticleView:
    """Give an article a new version: an admin's becomes current at once, a department
    editor's is a draft until the hotline office publishes it (older versions stay readable
    forever). A draft keeps the article's category and department: those the office changes."""
    body = _parse(data)
    article = article_by_id(session, article_id)
    _may_write(actor, article.department_code)
    given = body.model_fields_set
    category = body.category if "category" in given else article.category_code
    department = body.department if "department" in given else article.department_code
    _may_write(actor, department)
    if not _publishes(actor) and category != article.category_code:
        raise InvalidInput("category: 草稿不能改分类，请在稿件说明中写明，由热线办公室修改",
                           field="category")
    _check_refs(session, category if category != article.category_code else None,
                department if department != article.department_code else None)
    before = _snapshot(article, version_of(session, article.id, article.current_version))
    number = _last_number(session, article.id) + 1
    version = _add_version(session, article, number, body, actor, now)
    action = "draft"
    if _publishes(actor):
        action = "revise"
        _supersede_drafts(session, article.id, number)
        article.current_version = number
        article.category_code = category
        article.department_code = department
    article.updated_at = now
    session.flush()
    record_change(session, actor.id, "kb_article", article.id, action, before,
                  _snapshot(article, version), at=now)
    return get_article(session, article.id, number)


def _supersede_drafts(session: Session, article_id: int, below: int) -> None:
    for draft in session.scalars(select(ArticleVersion).where(
            ArticleVersion.article_id == article_id, ArticleVersion.review == DRAFT,
            ArticleVersion.version < below)):
        draft.review = SUPERSEDED


def _may_review(actor: Actor) -> None:
    if actor.role != Role.ADMIN:
        raise Forbidden("只有热线办公室（管理员）可以审核发布知识条目")


def _draft(session: Session, article: Article, number: int) -> ArticleVersion:
    version = version_of(session, article.id, number)
    if version is None:
        raise NotFound(f"version: 知识条目 {article.id} 没有第 {number} 版", field="version")
    if version.review != DRAFT:
        raise InvalidInput(f"version: 第 {number} 版不是待审核的草稿（现为"
                           f"“{STATUS_NAMES.get(version.review, version.review)}”）",
                           field="version")
    return version


def publish_version(session: Session, article_id: int, number: int, actor: Actor,
                    now: datetime) -> ArticleView:
    """Publish a department editor's draft (the hotline office): it becomes the current
    version, searched and given as answers; older drafts are superseded."""
    _may_review(actor)
    article = article_by_id(session, article_id)
    version = _draft(session, article, number)
    if not article.active:
        raise InvalidInput(f"article_id: 知识条目 {article_id} 已停用，不能发布",
                           field="article_id")
    if number < article.current_version:
        raise InvalidInput(f"version: 第 {number} 版早于现行的第 {article.current_version} 版，"
                           "不能发布", field="version")
    before = _snapshot(article, version_of(session, article.id, article.current_version))
    version.review = PUBLISHED
    version.reviewed_at = now
    version.reviewed_by_id = actor.id
    _supersede_drafts(session, article.id, number)
    article.current_version = number
    article.updated_at = now
    session.flush()
    record_change(session, actor.id, "kb_article", article.id, "publish", before,
                  _snapshot(article, version), at=now)
    return get_article(session, article.id, number)


def reject_version(session: Session, article_id: int, number: int, note: str, actor: Actor,
                   now: datetime) -> ArticleView:
    """Send a draft back to its department with the reason (the hotline office)."""
    _may_review(actor)
    article = article_by_id(session, article_id)
    version = _draft(session, article, number)
    reason = (note or "").strip()
    if not reason:
        raise InvalidInput("note: 退回须写明原因", field="note")
    if len(reason) > MAX_NOTE:
        raise InvalidInput(f"note: 退回原因不能超过 {MAX_NOTE} 字", field="note")
    before = _snapshot(article, version)
    version.review = REJECTED
    version.reviewed_at = now
    version.reviewed_by_id = actor.id
    version.review_note = reason
    article.updated_at = now
    session.flush()
    record_change(session, actor.id, "kb_article", article.id, "reject", before,
                  {**_snapshot(article, version), "note": reason}, at=now)
    return get_article(session, article.id, number)


def retire_article(session: Session, article_id: int, actor: Actor,
                   now: datetime) -> ArticleView:
    """Take an article out of search and out of new answers; its versions stay readable."""
    article = article_by_id(session, article_id)
    _may_write(actor, article.department_code)
    if not article.active:
        return get_article(session, article.id)
    before = _snapshot(article, None)
    article.active = False
    article.updated_at = now
    session.flush()
    record_change(session, actor.id, "kb_article", article.id, "retire", before,
                  _snapshot(article, None), at=now)
    return get_article(session, article.id)


# ---------------------------------------------------------------- demo data


def load_demo_knowledge(session: Session, now: datetime, path: Path = DEMO_FILE) -> int:
    """Load the demo county's knowledge base where its titles are missing; how many added."""
    from dispatch.core.actors import Actor

    items = json.loads(path.read_text(encoding="utf-8"))
    present = set(session.scalars(
        select(ArticleVersion.title).join(Article, (Article.id == ArticleVersion.article_id)
                                          & (Article.current_version
                                             == ArticleVersion.version))))
    admin = Actor(None, Role.ADMIN, username="demo")
    added = 0
    for item in items:
        if item["title"] in present:
            continue
        create_article(session, item, admin, now)
        added += 1
    return added
