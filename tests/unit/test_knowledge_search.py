"""Knowledge-base search: jieba segmentation and BM25F ranking on a small in-memory corpus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

import dispatch.core.models  # noqa: F401
import dispatch.triage.knowledge as kb
import grid.models  # noqa: F401
from dispatch.core.db import Base
from dispatch.core.models import Category
from dispatch.core.vocab import Role
from dispatch.tickets.lifecycle import Actor
from grid.demo.reference import load_categories, load_departments
from grid.models import Department

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
ADMIN = Actor(1, Role.ADMIN, username="admin1")
CORPUS = [
    {"title": "居住证办理条件和所需材料", "category": "public_security.household_exit_entry",
     "department": "public_security",
     "body": "在本市居住半年以上，有合法稳定就业、住所或就读的，可以到派出所申领居住证。"},
    {"title": "义务教育入学政策", "category": "education.enrollment.school_admission",
     "department": "education_sports",
     "body": "随迁子女凭居住证和务工证明，由教育部门统筹安排入学。"},
    {"title": "住房公积金提取", "category": "housing.housing_security",
     "department": "housing_construction",
     "body": "租房、购房、退休都可以提取住房公积金，通过手机公积金App办理。"},
    {"title": "停水通知查询", "category": "utilities.water.water_outage",
     "department": "water_supply",
     "body": "计划停水提前24小时在公众号公告，爆管抢修停水第一时间发布。"},
]


@pytest.fixture
def bare() -> Iterator[Session]:
    """An in-memory database with the categories and departments, and no article."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as s:
        load_categories(s)
        load_departments(s)
        s.commit()
        yield s
    engine.dispose()


@pytest.fixture
def session(bare: Session) -> Session:
    """The small corpus above."""
    for item in CORPUS:
        kb.create_article(bare, item, ADMIN, NOW)
    bare.commit()
    return bare


def titles(hits: list[kb.Hit]) -> list[str]:
    return [h.title for h in hits]


def test_tokens_segment_in_search_mode_without_stop_words_or_punctuation() -> None:
    assert kb.tokens("新生儿怎么落户？") == ["新生", "生儿", "新生儿", "落户"]
    assert kb.tokens("请问，我的　ＡＰＰ怎么用") == ["app", "用"]
    assert kb.tokens("怎么，吗？") == []


def test_a_title_match_outranks_a_body_only_match(session: Session) -> None:
    hits = kb.search(session, "居住证怎么办", on=TODAY)
    assert titles(hits) == ["居住证办理条件和所需材料", "义务教育入学政策"]
    assert hits[0].score > hits[1].score > 0
    assert hits[0].version == 1 and hits[0].department == "public_security"


def test_a_rare_word_weighs_more_than_a_common_one(session: Session) -> None:
    # 停水 appears in one article, 公众号/办理 in several: the rare word decides.
    hits = kb.search(session, "停水 办理", on=TODAY)
    assert titles(hits)[0] == "停水通知查询"


def test_a_query_of_nothing_but_stop_words_finds_nothing(session: Session) -> None:
    assert kb.search(session, "请问 怎么 吗", on=TODAY) == []
    assert kb.search(session, "火星移民", on=TODAY) == []


def test_filters_by_category_subtree_and_by_department(session: Session) -> None:
    assert titles(kb.search(session, "居住证", on=TODAY, category="education")) == [
        "义务教育入学政策"]
    assert titles(kb.search(session, "居住证", on=TODAY, department="public_security")) == [
        "居住证办理条件和所需材料"]
    assert kb.search(session, "居住证", on=TODAY, category="educ") == []


def test_only_versions_valid_on_the_day_are_found(session: Session) -> None:
    article = kb.search(session, "停水", on=TODAY)[0].article_id
    kb.revise_article(session, article, {"title": "停水通知查询", "body": "停水公告见公众号。",
                                         "valid_from": "2026-12-01", "valid_to": "2026-12-31"},
                      ADMIN, NOW)
    assert kb.search(session, "停水", on=TODAY) == []
    hit = kb.search(session, "停水", on=date(2026, 12, 31))[0]
    assert (hit.version, hit.valid) == (2, (date(2026, 12, 1), date(2026, 12, 31)))
    assert kb.search(session, "停水", on=date(2027, 1, 1)) == []


def test_the_cached_index_sees_a_revision_and_a_retirement_at_the_same_moment(
        session: Session) -> None:
    first = kb.search(session, "公积金", on=TODAY)[0]
    kb.revise_article(session, first.article_id,
                      {"title": "公积金提取和贷款", "body": "提取和贷款都在手机公积金App办理。"},
                      ADMIN, NOW)
    again = kb.search(session, "公积金", on=TODAY)[0]
    assert (again.version, again.title) == (2, "公积金提取和贷款")
    kb.retire_article(session, first.article_id, ADMIN, NOW)
    assert kb.search(session, "公积金", on=TODAY) == []


def test_the_snippet_shows_the_body_around_the_match(session: Session) -> None:
    hit = kb.search(session, "爆管", on=TODAY)[0]
    assert "爆管" in hit.snippet and len(hit.snippet) <= kb.SNIPPET + 2


def test_the_demo_knowledge_base_answers_typical_calls(bare: Session) -> None:
    session = bare
    added = kb.load_demo_knowledge(session, NOW)
    assert added >= 40
    assert kb.load_demo_knowledge(session, NOW) == 0
    expected = {
        "新生儿怎么落户": "新生儿落户办理",
        "公积金怎么提取": "住房公积金提取条件和办理方式",
        "医保报销需要什么材料": "住院费用医保报销流程",
        "家里停水了去哪查通知": "停水通知和计划停水查询",
        "小区门口有人摆摊占道": "占道经营投诉处理流程",
        "孩子上小学怎么报名": "义务教育阶段入学政策（小学一年级、初一）",
        "房产证怎么办理": "不动产登记（房产证）办理流程",
    }
    for query, title in expected.items():
        assert kb.search(session, query, on=TODAY, limit=3)[0].title == title, query


def test_every_demo_article_names_a_known_category_and_department(bare: Session) -> None:
    session = bare
    items = json.loads(kb.DEMO_FILE.read_text(encoding="utf-8"))
    categories = set(session.scalars(select(Category.code)))
    departments = set(session.scalars(select(Department.code)))
    assert len(items) >= 40
    assert len({i["title"] for i in items}) == len(items)
    for item in items:
        kb.ArticleIn.model_validate_json(json.dumps(item, ensure_ascii=False))
        assert item["category"] in categories, item["title"]
        assert item["department"] in departments, item["title"]


@pytest.fixture
def demo(bare: Session) -> Session:
    """The demo county's knowledge base (44 articles)."""
    kb.load_demo_knowledge(bare, NOW)
    bare.commit()
    return bare


@pytest.mark.parametrize(("query", "first", "not_first"), [
    ("社保卡丢了怎么补办", "社保卡申领、补换及挂失", "门诊慢特病认定申请"),
    ("身份证丢了怎么办", "身份证补领、换领和异地办理", "农民工工资被拖欠怎么办"),
    ("停水了什么时候来水", "停水通知和计划停水查询", "水费缴纳和用水报装"),
    ("电梯坏了把人关里面了", "电梯故障困人应急处理", None),
    ("公积金怎么取出来", "住房公积金提取条件和办理方式", "住房公积金贷款申请条件"),
])
def test_the_key_nouns_of_a_question_decide_not_how_it_is_asked(
        demo: Session, query: str, first: str, not_first: str | None) -> None:
    ranked = titles(kb.search(demo, query, on=TODAY))
    assert ranked[0] == first, ranked[:3]
    assert not_first is None or not_first != ranked[0]


def test_question_words_weigh_nothing_and_key_nouns_double() -> None:
    weights = kb.query_weights("社保卡丢了怎么补办")
    assert weights["社保卡"] == kb.NOUN_WEIGHT > weights["补办"]
    assert "怎么" not in weights and "了" not in weights
    assert weights["挂失"] == kb.EXPANSION_WEIGHT  # 丢了 brings the service's own word
    assert kb.query_weights("怎么办 在哪 什么时候") == {}
