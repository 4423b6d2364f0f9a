"""Search: the current (published), valid versions ranked with BM25F (title weighted above
body) over jieba tokens, computed in Python over an index cached per database revision; an
article whose title holds the query's key nouns gets a bonus in proportion."""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.triage.knowledge.reading import holds_on, iso_day
from dispatch.triage.knowledge.tables import PUBLISHED, Article, ArticleVersion
from dispatch.triage.knowledge.words import NOUN_WEIGHT, TITLE_COVER, query_weights, tokens

# BM25F parameters: a title hit counts three body hits.
K1 = 1.2
FIELDS = {"title": (3.0, 0.5), "body": (1.0, 0.75)}  # field: (weight, length normalisation b)
SNIPPET = 80


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
                "valid_from": iso_day(self.valid[0]), "valid_to": iso_day(self.valid[1])}



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
        .where(Article.active.is_(True), ArticleVersion.review == PUBLISHED)).one()
    return tuple(str(v) for v in row)


def _build(session: Session) -> _Index:
    rows = session.execute(
        select(Article.id, ArticleVersion.version, ArticleVersion.title, ArticleVersion.body,
               ArticleVersion.keywords, Article.category_code, Article.department_code,
               ArticleVersion.valid_from, ArticleVersion.valid_to)
        .join(ArticleVersion, (ArticleVersion.article_id == Article.id)
              & (ArticleVersion.version == Article.current_version))
        .where(Article.active.is_(True), ArticleVersion.review == PUBLISHED)
        .order_by(Article.id)).all()
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
        if not holds_on(doc.valid_from, doc.valid_to, on):
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
