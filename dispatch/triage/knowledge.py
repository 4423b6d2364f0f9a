"""The knowledge base (知识库): versioned answers kept by departments, searched by operators.

An article keeps every version it ever had: a direct answer points at the version it gave, so
old versions stay readable forever. Search segments Chinese text with jieba (search mode) and
ranks the current, valid versions with BM25F (title weighted above body), computed in Python
over an index cached per database revision.

A caller's question is not weighed word for word: the words of how it is asked (怎么办, 在哪,
什么时候) count for nothing, its key nouns (社保卡, 身份证, 公积金) count double, and a few
colloquial words bring the service's own word along (丢了 → 补办/补领/挂失, 坏了 → 故障); an
article whose title holds the key nouns gets a bonus in proportion, so "社保卡丢了怎么补办" finds
社保卡申领、补换及挂失 first, not an article that merely shares "怎么办" or "补办".
"""

from __future__ import annotations

import json
import math
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, StringConstraints, ValidationError, ValidationInfo, field_validator
from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.core.commands import Code, Strict, validation_error
from dispatch.core.db import Base, UTCDateTime, utcnow
from dispatch.core.errors import Forbidden, InvalidInput, NotFound
from dispatch.core.models import Category
from dispatch.core.vocab import Role
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.triage.segmenter import segmenter, tagger

if TYPE_CHECKING:
    from dispatch.core.actors import Actor

MAX_TITLE = 100
MAX_BODY = 4000
DEMO_FILE = Path(__file__).resolve().parents[2] / "grid" / "data" / "demo_knowledge.json"

# BM25F parameters: a title hit counts three body hits.
K1 = 1.2
FIELDS = {"title": (3.0, 0.5), "body": (1.0, 0.75)}  # field: (weight, length normalisation b)
SNIPPET = 80


# ---------------------------------------------------------------- tables


class Article(Base):
    """A knowledge-base article (知识条目): who keeps it and which version is current."""

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
    """One version of an article; never changed once written."""

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


# ---------------------------------------------------------------- input


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_BODY)]


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
            raise ValueError("must not be before valid_from")
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


# ---------------------------------------------------------------- results


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

    def valid_on(self, day: date) -> bool:
        """Whether this version holds on a given (local) day."""
        return _valid(self.valid_from, self.valid_to, day)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"id": self.id, "version": self.version, "current_version": self.current_version,
                "versions": list(self.versions), "title": self.title, "body": self.body,
                "category": self.category, "department": self.department,
                "valid_from": _iso(self.valid_from), "valid_to": _iso(self.valid_to),
                "active": self.active, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


@dataclass(frozen=True)
class Hit:
    """One search result: the current version of an article and how well it matched."""

    article_id: int
    version: int
    title: str
    snippet: str
    score: float
    category: str | None
    department: str | None
    valid: tuple[date | None, date | None]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"article_id": self.article_id, "version": self.version, "title": self.title,
                "snippet": self.snippet, "score": round(self.score, 4),
                "category": self.category, "department": self.department,
                "valid_from": _iso(self.valid[0]), "valid_to": _iso(self.valid[1])}


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _valid(valid_from: date | None, valid_to: date | None, day: date) -> bool:
    return (valid_from is None or valid_from <= day) and (valid_to is None or day <= valid_to)


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar day of a UTC moment."""
    return moment.astimezone(LOCAL_TZ).date()


# ---------------------------------------------------------------- segmentation

# Words that say nothing about which answer is wanted.
STOPWORDS = frozenset(
    "的 了 吗 呢 吧 啊 呀 是 在 有 和 与 及 或 我 你 他 她 我们 你们 请问 请 问 想 要 想要 能 能否 "
    "可以 怎么 怎样 怎么样 如何 什么 哪里 哪些 哪个 多少 一下 这个 那个 这 那 就 都 也 还 "
    "需要 应该 是否 吗 么 个 为 对 把 被 给 让 从 到 去 来 上 下 中 等 该".split())



# How a question is asked, not what it is about: dropped from queries (articles keep them).
QUESTION_WORDS = frozenset(
    "怎么办 怎么弄 怎么搞 怎么整 咋办 咋弄 咋整 咋 啥 哪 哪儿 在哪 在哪里 去哪 去哪里 哪领 哪开 "
    "时候 什么时候 多久 办法 一下 了 吗 呢 啊 吧 能 能不能 可不可以 行不行".split())
# What citizens say when they mean a service's own words (added at a lower weight).
EXPANSIONS: dict[str, tuple[str, ...]] = {
    "丢": ("补办", "补领", "补换", "挂失"), "丢失": ("补办", "补领", "补换", "挂失"),
    "遗失": ("补办", "补领", "补换", "挂失"), "掉": ("补办", "补领", "挂失"),
    "坏": ("故障",), "坏了": ("故障",), "取": ("提取",), "取出": ("提取",),
    "补贴": ("津贴",), "津贴": ("补贴",), "领": ("申领", "领取"), "看病": ("就医",),
}
# Nouns of what any errand needs, never what the question is about: they count as plain words.
GENERIC_NOUNS = frozenset(
    "材料 手续 流程 条件 方式 办理 问题 事情 事儿 情况 地方 时间 部门 电话 东西 政策 规定 "
    "标准 要求 费用 资料 证件 服务 业务 窗口 地址 网上".split())
NOUN_WEIGHT, WORD_WEIGHT, MINOR_WEIGHT, EXPANSION_WEIGHT = 2.0, 1.0, 0.5, 0.6
# The bonus for an article whose title holds the query's key nouns (all of them: +TITLE_COVER
# times the query's best single-term score).
TITLE_COVER = 1.5


def query_weights(query: str) -> dict[str, float]:
    """The query's search tokens with how much each counts: key nouns double, the words of
    asking nothing, pronouns and particles half, expansions a little."""
    value = unicodedata.normalize("NFKC", query).lower()
    out: dict[str, float] = {}

    def add(token: str, weight: float) -> None:
        if token and token not in STOPWORDS and token not in QUESTION_WORDS \
                and any(ch.isalnum() for ch in token):
            out[token] = max(out.get(token, 0.0), weight)

    for pair in tagger().cut(value):
        word, flag = pair.word.strip(), pair.flag
        if not word or word in QUESTION_WORDS:
            continue
        noun = flag.startswith("n") or flag in ("vn", "j")  # j: an abbreviation (医保)
        if noun and len(word) >= 2 and word not in GENERIC_NOUNS:
            weight = NOUN_WEIGHT  # a single character (水, 人) is too vague to be key
        elif noun or flag[:1] in ("v", "a", "m", "q", "s", "f", "t", "l", "x", "e"):
            weight = WORD_WEIGHT
        else:
            weight = MINOR_WEIGHT
        for piece in [word, *tokens(word)]:
            add(piece, weight)
        for extra in EXPANSIONS.get(word, ()):
            add(extra, EXPANSION_WEIGHT)
    return out


def tokens(value: str) -> list[str]:
    """Search-mode jieba tokens of a text: lower-cased, without punctuation and stop words."""
    value = unicodedata.normalize("NFKC", value).lower()
    out = []
    for token in segmenter().cut_for_search(value):
        token = token.strip()
        if token and token not in STOPWORDS and any(ch.isalnum() for ch in token):
            out.append(token)
    return out


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
            raise InvalidInput(f"category: unknown category '{category}'", field="category")
    if department is not None and not _department_exists(session, department):
        raise InvalidInput(f"department: no active department '{department}'",
                           field="department")


def _may_write(actor: Actor, department: str | None) -> None:
    if actor.role == Role.ADMIN:
        return
    if actor.role == Role.HANDLER and actor.department_code and \
            department == actor.department_code:
        return
    if actor.role == Role.HANDLER:
        raise Forbidden("a handler may only write their own department's articles")
    raise Forbidden(f"role '{actor.role}' may not write the knowledge base")


def _add_version(session: Session, article: Article, number: int, body: ArticleIn,
                 actor_id: int | None, now: datetime) -> ArticleVersion:
    version = ArticleVersion(
        article_id=article.id, version=number, title=body.title, body=body.body,
        keywords=" ".join(tokens(body.title) + tokens(body.body)),
        valid_from=body.valid_from, valid_to=body.valid_to, created_at=now,
        created_by_id=actor_id)
    session.add(version)
    return version


def create_article(session: Session, data: ArticleIn | dict[str, Any], actor: Actor,
                   now: datetime) -> ArticleView:
    """Add an article with its first version; nothing is written when refused."""
    body = _parse(data)
    department = body.department
    if department is None and actor.role == Role.HANDLER:
        department = actor.department_code
    _may_write(actor, department)
    _check_refs(session, body.category, department)
    article = Article(department_code=department, category_code=body.category,
                      current_version=1, active=True, created_at=now, updated_at=now,
                      created_by_id=actor.id)
    session.add(article)
    session.flush()
    _add_version(session, article, 1, body, actor.id, now)
    session.flush()
    return get_article(session, article.id)


def _article(session: Session, article_id: int) -> Article:
    article = session.get(Article, article_id)
    if article is None:
        raise NotFound(f"no knowledge-base article {article_id}", field="article_id")
    return article


def revise_article(session: Session, article_id: int, data: ArticleIn | dict[str, Any],
                   actor: Actor, now: datetime) -> ArticleView:
    """Give an article a new current version (older versions stay readable forever)."""
    body = _parse(data)
    article = _article(session, article_id)
    _may_write(actor, article.department_code)
    given = body.model_fields_set
    category = body.category if "category" in given else article.category_code
    department = body.department if "department" in given else article.department_code
    _may_write(actor, department)
    _check_refs(session, category if category != article.category_code else None,
                department if department != article.department_code else None)
    number = article.current_version + 1
    _add_version(session, article, number, body, actor.id, now)
    article.current_version = number
    article.category_code = category
    article.department_code = department
    article.updated_at = now
    session.flush()
    return get_article(session, article.id)


def retire_article(session: Session, article_id: int, actor: Actor,
                   now: datetime) -> ArticleView:
    """Take an article out of search and out of new answers; its versions stay readable."""
    article = _article(session, article_id)
    _may_write(actor, article.department_code)
    if not article.active:
        return get_article(session, article.id)
    article.active = False
    article.updated_at = now
    session.flush()
    return get_article(session, article.id)


# ---------------------------------------------------------------- reading


def get_article(session: Session, article_id: int, version: int | None = None) -> ArticleView:
    """One version of an article (default: the current one)."""
    article = _article(session, article_id)
    number = version if version is not None else article.current_version
    versions = tuple(session.scalars(
        select(ArticleVersion.version).where(ArticleVersion.article_id == article.id)
        .order_by(ArticleVersion.version)))
    row = session.scalar(select(ArticleVersion).where(
        ArticleVersion.article_id == article.id, ArticleVersion.version == number))
    if row is None:
        raise NotFound(f"article {article_id} has no version {number}", field="version")
    return ArticleView(
        id=article.id, version=row.version, current_version=article.current_version,
        versions=versions, title=row.title, body=row.body, category=article.category_code,
        department=article.department_code, valid_from=row.valid_from, valid_to=row.valid_to,
        active=article.active, created_at=row.created_at, updated_at=article.updated_at)


def answer_version(session: Session, article_id: int, version: int | None,
                   day: date) -> ArticleView:
    """The article version a direct answer gives: it must exist, be in force and hold on
    `day`; refusals name the payload field at fault."""
    article = session.get(Article, article_id)
    if article is None:
        raise InvalidInput(f"article_id: no knowledge-base article {article_id}",
                           field="article_id")
    if not article.active:
        raise InvalidInput(f"article_id: article {article_id} is retired", field="article_id")
    try:
        view = get_article(session, article_id, version)
    except NotFound:
        raise InvalidInput(f"article_version: article {article_id} has no version {version}",
                           field="article_version") from None
    if not view.valid_on(day):
        raise InvalidInput(
            f"article_version: version {view.version} of article {article_id} does not hold "
            f"on {day.isoformat()} (valid {_iso(view.valid_from) or '…'} to "
            f"{_iso(view.valid_to) or '…'})", field="article_version")
    return view


# ---------------------------------------------------------------- search


@dataclass(frozen=True)
class _Doc:
    article_id: int
    version: int
    title: str
    body: str
    category: str | None
    department: str | None
    valid_from: date | None
    valid_to: date | None
    tf: dict[str, Counter[str]]
    length: dict[str, int]


@dataclass(frozen=True)
class _Index:
    docs: tuple[_Doc, ...]
    df: Counter[str]
    avg: dict[str, float]

    def idf(self, token: str) -> float:
        n, df = len(self.docs), self.df.get(token, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))


_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple[Any, ...], _Index]] = {}


def _revision(session: Session) -> tuple[Any, ...]:
    """Changes whenever an article is added, revised or retired."""
    row = session.execute(
        select(func.count(Article.id), func.sum(Article.current_version),
               func.max(Article.updated_at), func.sum(func.length(ArticleVersion.keywords)))
        .join(ArticleVersion, (ArticleVersion.article_id == Article.id)
              & (ArticleVersion.version == Article.current_version))
        .where(Article.active.is_(True))).one()
    return tuple(str(v) for v in row)


def _build(session: Session) -> _Index:
    rows = session.execute(
        select(Article.id, ArticleVersion.version, ArticleVersion.title, ArticleVersion.body,
               ArticleVersion.keywords, Article.category_code, Article.department_code,
               ArticleVersion.valid_from, ArticleVersion.valid_to)
        .join(ArticleVersion, (ArticleVersion.article_id == Article.id)
              & (ArticleVersion.version == Article.current_version))
        .where(Article.active.is_(True)).order_by(Article.id)).all()
    docs, df = [], Counter[str]()
    for r in rows:
        title_tokens = tokens(r.title)
        # keywords hold title then body tokens; the body's are what follows the title's.
        all_tokens = r.keywords.split()
        body_tokens = all_tokens[len(title_tokens):] if all_tokens[:len(title_tokens)] \
            == title_tokens else tokens(r.body)
        tf = {"title": Counter(title_tokens), "body": Counter(body_tokens)}
        docs.append(_Doc(r.id, r.version, r.title, r.body, r.category_code,
                         r.department_code, r.valid_from, r.valid_to, tf,
                         {"title": len(title_tokens), "body": len(body_tokens)}))
        df.update(set(title_tokens) | set(body_tokens))
    avg = {f: (sum(d.length[f] for d in docs) / len(docs) if docs else 1.0) or 1.0
           for f in FIELDS}
    return _Index(tuple(docs), df, avg)


def _index(session: Session) -> _Index:
    bind = session.get_bind()
    key = bind.url.render_as_string(hide_password=True) if hasattr(bind, "url") else str(id(bind))
    revision = _revision(session)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == revision:
            return cached[1]
        index = _build(session)
        _cache[key] = (revision, index)
        return index


def _score(index: _Index, doc: _Doc, query: dict[str, float]) -> float:
    score = 0.0
    for token, importance in query.items():
        weighted = 0.0
        for name, (weight, b) in FIELDS.items():
            tf = doc.tf[name].get(token, 0)
            if tf:
                norm = 1 - b + b * doc.length[name] / index.avg[name]
                weighted += weight * tf / norm
        if weighted:
            score += importance * index.idf(token) * weighted / (K1 + weighted)
    if score <= 0:
        return score
    # The title's cover of the key nouns, each by its rarity.
    key = {t: w * index.idf(t) for t, w in query.items() if w >= NOUN_WEIGHT}
    total = sum(key.values())
    if total:
        covered = sum(v for t, v in key.items() if doc.tf["title"].get(t))
        score += TITLE_COVER * max(key.values()) * covered / total
    return score


def _snippet(body: str, query: list[str]) -> str:
    positions = [body.find(t) for t in sorted(query, key=len, reverse=True)]
    found = [p for p in positions if p >= 0]
    start = max(0, min(found) - SNIPPET // 4) if found else 0
    piece = body[start:start + SNIPPET].replace("\n", " ")
    return ("…" if start else "") + piece + ("…" if start + SNIPPET < len(body) else "")


def search(session: Session, query: str, *, on: date, category: str | None = None,
           department: str | None = None, limit: int = 10) -> list[Hit]:
    """Current versions valid on `on`, best match first (BM25F over jieba tokens)."""
    wanted = query_weights(query)
    if not wanted:
        return []
    index = _index(session)
    hits = []
    for doc in index.docs:
        if not _valid(doc.valid_from, doc.valid_to, on):
            continue
        if category and not (doc.category == category
                             or (doc.category or "").startswith(category + ".")):
            continue
        if department and doc.department != department:
            continue
        score = _score(index, doc, wanted)
        if score > 0:
            hits.append((score, doc))
    hits.sort(key=lambda h: (-h[0], h[1].article_id))
    return [Hit(d.article_id, d.version, d.title, _snippet(d.body, list(wanted)), s,
                d.category, d.department, (d.valid_from, d.valid_to))
            for s, d in hits[:limit]]


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
