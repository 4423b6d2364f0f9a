"""The rule classifier, pure: rules in memory, no database."""

from __future__ import annotations

import threading

from dispatch.core.ports import Classifier
from dispatch.triage.rules import DOUBT, Rule, RuleClassifier, rules_from_file

RULES = [
    Rule("category", "environment", "噪音", 4),
    Rule("category", "urban", "占道经营", 4),
    Rule("category", "urban", "垃圾", 3),
    Rule("category", "environment", "臭味", 2.5),
    Rule("category", "public_security", "打架", 5),
    Rule("category", "public_security", "刀", 3),
    Rule("type", "complaint", "投诉", 3),
    Rule("type", "consult", "请问", 3),
    Rule("police_matter", "true", "打架", 5),
    Rule("police_matter", "true", "刀", 3),
    Rule("police_matter", "true", "可疑", 2),
    Rule("police_matter", "true", "受伤", 3),
    Rule("police_matter", "false", "挪车", 3),
    Rule("urgency", "critical", "着火", 5),
    Rule("urgency", "critical", "受伤", 4),
    Rule("urgency", "critical", "冒烟", 2),
    Rule("urgency", "urgent", "停水", 3),
]


def make() -> RuleClassifier:
    return RuleClassifier(RULES)


def test_it_implements_the_classifier_port() -> None:
    classifier: Classifier = make()
    assert classifier.suggest("投诉噪音").category == "environment"


def test_weighted_phrases_decide_and_are_named_in_the_reasons() -> None:
    s = make().suggest("我要投诉，楼下工地噪音太大")
    assert (s.type, s.category, s.urgency, s.police_matter) == (
        "complaint", "environment", "normal", False)
    assert "“噪音” → 分类 environment (+4)" in s.reasons
    assert "“投诉” → 类型 complaint (+3)" in s.reasons


def test_a_short_keyword_does_not_match_inside_an_unrelated_word() -> None:
    s = make().suggest("楼下那家刀削面店门口占道经营")
    assert s.category == "urban"
    assert not s.police_matter and DOUBT not in s.reasons


def test_a_short_keyword_matches_as_a_word() -> None:
    s = make().suggest("有个人拿着刀在小区里转")
    assert s.police_matter and s.category == "public_security"


def test_full_width_text_and_spaces_are_normalised() -> None:
    classifier = RuleClassifier([Rule("police_matter", "true", "110", 4)])
    assert classifier.suggest("１ １ ０转来的").police_matter


def test_close_scores_are_reported() -> None:
    s = make().suggest("垃圾站的臭味")  # urban 3 vs environment 2.5
    assert s.category == "urban"
    assert any("得分接近" in r for r in s.reasons)


def test_nothing_matched_is_said_and_the_category_left_to_the_operator() -> None:
    s = make().suggest("你好，我想说个事")
    assert s.category is None and s.type == "complaint" and s.urgency == "normal"
    assert any("未匹配到关键词" in r and "分类" in r for r in s.reasons)
    assert any("默认为 complaint" in r for r in s.reasons)


def test_a_police_cue_flags_the_matter_with_the_doubt_reason() -> None:
    s = make().suggest("门口有人打架")
    assert s.police_matter and s.urgency in ("urgent", "critical")
    assert DOUBT in s.reasons


def test_a_weak_police_cue_is_not_dropped_quietly() -> None:
    s = make().suggest("门口有个可疑的人")
    assert not s.police_matter
    assert DOUBT in s.reasons and any("未达" in r for r in s.reasons)


def test_a_weak_critical_cue_is_not_dropped_quietly() -> None:
    s = make().suggest("配电箱冒烟")
    assert s.urgency != "critical" and DOUBT in s.reasons


def test_a_negated_danger_cue_is_not_counted_but_still_flagged() -> None:
    s = make().suggest("刚才追尾了，没有人受伤")
    assert s.urgency == "normal" and not s.police_matter
    assert "“受伤” 前有否定词，未计分" in s.reasons and DOUBT in s.reasons


def test_negation_does_not_hide_a_category() -> None:
    classifier = RuleClassifier([Rule("category", "labour", "工资", 4)])
    assert classifier.suggest("三个月没发工资了").category == "labour"


def test_a_critical_cue_makes_the_demand_critical() -> None:
    s = make().suggest("对面楼着火了")
    assert s.urgency == "critical" and DOUBT in s.reasons


def test_non_police_phrases_lower_the_police_score() -> None:
    s = make().suggest("有人拿刀堵着不让挪车")  # 刀 3 - 挪车 3: below the threshold
    assert not s.police_matter and DOUBT in s.reasons


def test_urgent_cues() -> None:
    assert make().suggest("小区停水了").urgency == "urgent"


def test_negative_weights_subtract() -> None:
    classifier = RuleClassifier([Rule("category", "urban", "垃圾", 3),
                                 Rule("category", "urban", "垃圾分类", -5),
                                 Rule("category", "government", "政策", 1)])
    assert classifier.suggest("垃圾分类有什么政策").category == "government"


def test_empty_rules_and_empty_text() -> None:
    s = RuleClassifier([]).suggest("")
    assert s.category is None and not s.police_matter


def test_the_classifier_is_safe_across_threads() -> None:
    classifier = RuleClassifier(rules_from_file())
    texts = ["楼下有人打架", "小区停水两天了", "想问一下低保怎么申请"] * 20
    expected = [classifier.suggest(t) for t in texts]
    results: list = [None] * len(texts)

    def work(i: int) -> None:
        results[i] = classifier.suggest(texts[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected


def test_shipped_rules_cover_every_field_and_top_level_category() -> None:
    import json
    from pathlib import Path

    rules = rules_from_file()
    tree = json.loads((Path(__file__).parents[2] / "grid/data/categories.json")
                      .read_text(encoding="utf-8"))
    tops = {c["code"] for c in tree}
    assert {r.value for r in rules if r.field == "category"} == tops
    assert {r.value for r in rules if r.field == "type"} == {
        "consult", "help", "complaint", "report", "suggestion", "praise"}
    assert {r.value for r in rules if r.field == "urgency"} == {"urgent", "critical"}
    assert all(1 <= len(r.phrase) <= 20 and -10 <= r.weight <= 10 for r in rules)
    assert len(rules) >= 300


# ---------------------------------------------------------------- the learned model's type cues


def test_request_type_cues_are_features_whatever_their_wording() -> None:
    from dispatch.triage.features import of_text

    def cues(text: str) -> set[str]:
        return {f for f in of_text(text) if f.startswith("t")}

    assert {"tquestion"} <= cues("请问居住证在哪办") and {"tquestion"} <= cues("这个合法不？")
    assert {"town", "tagain", "thome"} <= cues("俺家楼上天天半夜蹦跶，打了三回电话了没人管")
    assert {"tothers"} <= cues("看见有人往河里倒垃圾")
    assert {"tthanks"} <= cues("感谢环卫工人") and {"tproposal"} <= cues("建议多装几个路灯")
    assert cues("路灯不亮") == set()  # no cue in a bare public problem


def test_a_type_cue_is_shown_in_chinese_as_a_reason() -> None:
    from dispatch.triage.features import display

    assert display("tquestion") == "问句" and display("tagain") == "多次反映"
    assert display("town") == "自家的事"
    assert display("w投诉") == "投诉"  # other features as before
