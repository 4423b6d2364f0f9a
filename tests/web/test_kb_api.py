"""The knowledge base over HTTP: search, read, create, revise, retire, the refusals, and an
operator answering a call directly with an article."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

import dispatch.triage.knowledge  # noqa: F401 - the kb tables on the metadata before the schema is made
import web.api.kb  # noqa: F401 - the routes, before the `app` fixture builds the application
from tests.web.conftest import TICKETS, error_of

KB = "/api/v1/kb"


def article(**fields: Any) -> dict[str, Any]:
    body = {"title": "居住证办理条件和所需材料",
            "category": "public_security.household_exit_entry.residence_permits",
            "department": "public_security",
            "body": "在本市居住半年以上，有合法稳定就业、住所或就读的，可以到派出所申领居住证。"}
    body.update(fields)
    return body


def kb_rows(app) -> tuple[int, int]:
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return (conn.execute(text("SELECT count(*) FROM kb_articles")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM kb_article_versions")).scalar_one())


@pytest.fixture
def created(api) -> dict[str, Any]:
    r = api.post("admin1", f"{KB}/articles", json=article())
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_admin_creates_revises_reads_every_version_and_retires(api, created) -> None:
    assert (created["version"], created["versions"], created["active"]) == (1, [1], True)
    r = api.put("admin1", f"{KB}/articles/{created['id']}",
                json=article(title="居住证怎么办理", valid_from="2026-11-01"))
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["version"], r.get_json()["valid_from"]) == (2, "2026-11-01")
    old = api.get("operator1", f"{KB}/articles/{created['id']}?version=1").get_json()
    assert (old["title"], old["current_version"]) == ("居住证办理条件和所需材料", 2)
    assert api.get("leader1", f"{KB}/articles/{created['id']}").get_json()["version"] == 2
    r = api.post("admin1", f"{KB}/articles/{created['id']}/retire")
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert api.get("operator1", f"{KB}/search?q=居住证").get_json()["items"] == []


def test_an_operator_searches_with_chinese_text_and_filters(api, created) -> None:
    api.post("admin1", f"{KB}/articles", json=article(
        title="义务教育入学政策", category="education", department="education_sports",
        body="随迁子女凭居住证和务工证明，由教育部门统筹安排入学。"))
    r = api.get("operator1", f"{KB}/search", query_string={"q": "居住证怎么办"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [h["title"] for h in body["items"]] == ["居住证办理条件和所需材料", "义务教育入学政策"]
    assert body["items"][0]["score"] > body["items"][1]["score"]
    assert {"article_id", "version", "snippet", "category", "department", "valid_from",
            "valid_to"} <= set(body["items"][0])
    assert "居住证" in body["tokens"]
    r = api.get("dispatcher1", f"{KB}/search",
                query_string={"q": "居住证", "category": "education"})
    assert [h["title"] for h in r.get_json()["items"]] == ["义务教育入学政策"]
    r = api.get("handler1", f"{KB}/search",
                query_string={"q": "居住证", "department": "public_security", "limit": "1"})
    assert len(r.get_json()["items"]) == 1


def test_a_handler_writes_for_their_own_department_only(api, created, app, tokens) -> None:
    r = api.post("handler1", f"{KB}/articles", json=article(
        title="占道经营投诉处理流程", department=None, category="urban",
        body="城管执法人员一般在2小时内到场核查。"))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["department"] == "urban_management"
    before = kb_rows(app)
    error = error_of(api.post("handler1", f"{KB}/articles", json=article()), 403, "forbidden")
    assert "本部门" in error["message"]
    error_of(api.put("handler1", f"{KB}/articles/{created['id']}", json=article()),
             403, "forbidden")
    error_of(api.post("handler1", f"{KB}/articles/{created['id']}/retire"), 403, "forbidden")
    assert kb_rows(app) == before


def test_refusals_have_the_house_shape_and_write_nothing(api, created, app, tokens) -> None:
    before = kb_rows(app)
    cases = [
        (api.post("admin1", f"{KB}/articles", json=article(title="")), 400, "invalid", "title"),
        (api.post("admin1", f"{KB}/articles", json=article(body="字" * 4001)),
         400, "invalid", "body"),
        (api.post("admin1", f"{KB}/articles",
                  json=article(valid_from="2026-12-01", valid_to="2026-11-01")),
         400, "invalid", "valid_to"),
        (api.post("admin1", f"{KB}/articles", json=article(department="nowhere")),
         400, "invalid", "department"),
        (api.post("admin1", f"{KB}/articles", json=article(category="nothing")),
         400, "invalid", "category"),
        (api.put("admin1", f"{KB}/articles/{created['id']}", json={"title": "缺正文"}),
         400, "invalid", "body"),
        (api.post("operator1", f"{KB}/articles", json=article()), 403, "forbidden", None),
        (api.post("leader1", f"{KB}/articles/{created['id']}/retire"), 403, "forbidden", None),
        (api.put("admin1", f"{KB}/articles/999", json=article()), 404, "not_found", None),
        (api.post("admin1", f"{KB}/articles/999/retire"), 404, "not_found", None),
        (api.get("operator1", f"{KB}/articles/999"), 404, "not_found", None),
        (api.get("operator1", f"{KB}/articles/{created['id']}?version=7"),
         404, "not_found", "version"),
        (api.get("operator1", f"{KB}/search?q="), 400, "invalid", "q"),
        (api.get("operator1", f"{KB}/search?q=x&colour=red"), 400, "invalid", "colour"),
        (api.get("worker1", f"{KB}/search?q=居住证"), 403, "forbidden", None),
        (api.get("police1", f"{KB}/search?q=居住证"), 403, "forbidden", None),
    ]
    for response, status, code, field in cases:
        error = error_of(response, status, code, field)
        if field is not None:
            assert error["message"].startswith(f"{field}: "), error
    assert kb_rows(app) == before
    assert api.client.get(f"{KB}/search?q=居住证").status_code == 401


def test_an_operator_answers_a_call_directly_with_an_article(api, created, unchanged) -> None:
    ticket = api.create(text="想问一下居住证怎么办理", type="consult",
                        category="public_security")
    hit = api.get("operator1", f"{KB}/search?q=居住证怎么办理").get_json()["items"][0]
    with unchanged(ticket["number"]):
        r = api.act("operator1", ticket["number"], "answer", version=ticket["version"],
                    answer="已告知办理条件和材料", article_id=hit["article_id"],
                    article_version=9)
        error = error_of(r, 400, "invalid", "article_version")
        assert error["message"] == (f"article_version: 知识条目 {hit['article_id']} "
                                    "没有第 9 版")
        r = api.act("operator1", ticket["number"], "answer", version=ticket["version"],
                    answer="已告知", article_id=hit["article_id"] + 100)
        error = error_of(r, 400, "invalid", "article_id")
        assert error["message"] == f"article_id: 知识条目 {hit['article_id'] + 100} 不存在"
    r = api.act("operator1", ticket["number"], "answer", version=ticket["version"],
                answer="已告知办理条件和材料", article_id=hit["article_id"])
    assert r.status_code == 200, r.get_json()
    view = r.get_json()
    assert view["status"] == "ARCHIVED"
    r = api.get("dispatcher1", f"{TICKETS}/{ticket['number']}")
    answer = [e for e in r.get_json()["events"] if e["action"] == "answer"]
    assert answer[0]["payload"] == {"answer": "已告知办理条件和材料",
                                    "article_id": hit["article_id"],
                                    "article_version": hit["version"],
                                    "article_title": hit["title"]}
