"""Knowledge-base routes under /api/v1/kb: search during a call, read any version, and (admin,
a handler for their own department) write new articles and versions or retire them; the review
step (a handler's versions are drafts, an admin publishes or rejects them), the admin page's
list, expiry warnings and the diff of two versions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dispatch.core.commands import Code, Id, Strict
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
REVIEWERS = (Role.ADMIN,)


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


class ListQuery(Query):
    department: Code | None = None
    category: Code | None = Field(None, description="category code; its subtree matches too")
    status: Literal["published", "pending", "unpublished", "retired", "expiring"] | None = \
        Field(None, description="published: in use; pending: a draft awaits review; "
              "unpublished: no version published yet; retired; expiring: validity ends within "
              "30 days or has ended")
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = \
        Field(None, description="text in the title or body")
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(20, ge=1, le=100)


class ExpiringQuery(Query):
    department: Code | None = None


class DiffQuery(Query):
    old: Id | None = Field(None, description="default: the current version")
    new: Id | None = Field(None, description="default: the newest version")


class RejectIn(Strict):
    note: Annotated[str, StringConstraints(max_length=1000)] = Field(
        "", description="why the draft goes back to its department (required)")


def _now():  # noqa: ANN202
    return services().clock.now()


def _own_department(actor: Actor, asked: str | None) -> str | None:
    """A department's editor sees their own department's articles only."""
    return actor.department_code if actor.role == Role.HANDLER else asked


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


@bp.endpoint("/kb/articles", "GET",
          "The articles (admin: all; a handler: their department's), filtered and paged, "
          "with the current version's title, drafts awaiting review and expiry warnings",
          query=ListQuery, roles=WRITERS)
def kb_list(actor: Actor, query: ListQuery) -> dict[str, Any]:
    wanted = knowledge.ArticleFilter(department=_own_department(actor, query.department),
                                     category=query.category, status=query.status,
                                     text=query.q or None)
    page = knowledge.list_articles(db.session, wanted, today=knowledge.local_date(_now()),
                                   page=query.page, per_page=query.per_page)
    commit()
    return page


@bp.endpoint("/kb/expiring", "GET",
          "Articles in use whose validity ends within 30 days or has ended, soonest first",
          query=ExpiringQuery, roles=WRITERS)
def kb_expiring(actor: Actor, query: ExpiringQuery) -> dict[str, Any]:
    items = knowledge.expiring_articles(db.session, today=knowledge.local_date(_now()),
                                        department=_own_department(actor, query.department))
    commit()
    return {"items": items, "days": knowledge.EXPIRY_DAYS}


@bp.endpoint("/kb/articles/<int:article_id>/diff", "GET",
          "Two versions side by side with the word-level changes of title and body",
          query=DiffQuery, roles=READERS)
def kb_diff(actor: Actor, article_id: int, query: DiffQuery) -> dict[str, Any]:
    diff = knowledge.diff_versions(db.session, article_id, query.old, query.new)
    commit()
    return diff


@bp.endpoint("/kb/articles/<int:article_id>/versions/<int:version>/publish", "POST",
          "Publish a department's draft (the hotline office): it becomes the version searched "
          "and given as answers", roles=REVIEWERS)
def kb_publish(actor: Actor, article_id: int, version: int) -> dict[str, Any]:
    view = knowledge.publish_version(db.session, article_id, version, actor, _now())
    commit()
    return view.as_dict()


@bp.endpoint("/kb/articles/<int:article_id>/versions/<int:version>/reject", "POST",
          "Send a department's draft back with the reason (the hotline office)",
          body=RejectIn, roles=REVIEWERS)
def kb_reject(actor: Actor, article_id: int, version: int, body: RejectIn) -> dict[str, Any]:
    view = knowledge.reject_version(db.session, article_id, version, body.note, actor, _now())
    commit()
    return view.as_dict()


@bp.endpoint("/kb/articles", "POST",
          "Add an article (its version 1: published at once when an admin writes it, a draft "
          "for the hotline office to review when a handler does)", body=knowledge.ArticleIn,
          roles=WRITERS, status=201)
def kb_create(actor: Actor, body: knowledge.ArticleIn) -> dict[str, Any]:
    view = knowledge.create_article(db.session, body, actor, _now())
    commit()
    return view.as_dict()


@bp.endpoint("/kb/articles/<int:article_id>", "PUT",
          "Give an article a new version (category and department kept unless given): an "
          "admin's is current at once, a handler's is a draft until an admin publishes it",
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
