"""Knowledge-base routes under /api/v1/kb: search during a call, read any version, and (admin,
a handler for their own department) write new articles and versions or retire them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dispatch.core.commands import Code, Id
from dispatch.core.vocab import Role
from dispatch.tickets.lifecycle import Actor
from dispatch.triage import knowledge
from web.api.base import ApiBlueprint, commit
from web.extensions import db
from web.services import services

bp = ApiBlueprint("kb", __name__)

READERS = (Role.OPERATOR, Role.DISPATCHER, Role.HANDLER, Role.ADMIN, Role.LEADER,
           Role.SUPERVISOR)
WRITERS = (Role.ADMIN, Role.HANDLER)


class Query(BaseModel):
    """Query strings arrive as text: numbers are parsed (lax), unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SearchQuery(Query):
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    category: Code | None = Field(None, description="category code; its subtree matches too")
    department: Code | None = None
    limit: int = Field(10, ge=1, le=50)


class VersionQuery(Query):
    version: Id | None = Field(None, description="default: the current version")


def _now():  # noqa: ANN202
    return services().clock.now()


@bp.endpoint("/kb/search", "GET",
          "Search the knowledge base (current versions in force today, best match first)",
          query=SearchQuery, roles=READERS)
def kb_search(actor: Actor, query: SearchQuery) -> dict[str, Any]:
    hits = knowledge.search(db.session, query.q, on=knowledge.local_date(_now()),
                            category=query.category, department=query.department,
                            limit=query.limit)
    commit()
    return {"items": [h.as_dict() for h in hits], "query": query.q,
            "tokens": knowledge.tokens(query.q)}


@bp.endpoint("/kb/articles/<int:article_id>", "GET", "Read an article (any version)",
          query=VersionQuery, roles=READERS)
def kb_read(actor: Actor, article_id: int, query: VersionQuery) -> dict[str, Any]:
    view = knowledge.get_article(db.session, article_id, query.version)
    commit()
    return view.as_dict()


@bp.endpoint("/kb/articles", "POST", "Add an article (its version 1)", body=knowledge.ArticleIn,
          roles=WRITERS, status=201)
def kb_create(actor: Actor, body: knowledge.ArticleIn) -> dict[str, Any]:
    view = knowledge.create_article(db.session, body, actor, _now())
    commit()
    return view.as_dict()


@bp.endpoint("/kb/articles/<int:article_id>", "PUT",
          "Give an article a new version (category and department kept unless given)",
          body=knowledge.ArticleIn, roles=WRITERS)
def kb_revise(actor: Actor, article_id: int, body: knowledge.ArticleIn) -> dict[str, Any]:
    view = knowledge.revise_article(db.session, article_id, body, actor, _now())
    commit()
    return view.as_dict()


@bp.endpoint("/kb/articles/<int:article_id>/retire", "POST",
          "Retire an article: out of search and new answers; its versions stay readable",
          roles=WRITERS)
def kb_retire(actor: Actor, article_id: int) -> dict[str, Any]:
    view = knowledge.retire_article(db.session, article_id, actor, _now())
    commit()
    return view.as_dict()
