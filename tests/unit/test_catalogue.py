"""The dispatch catalogue's resolution rules (DOMAIN.md, Routing), on hand-built rules."""

from __future__ import annotations

from grid.catalogue import Catalogue, Dept, Rule

CATEGORIES = {
    "urban": ("城市管理", None),
    "urban.sanitation": ("环境卫生", "urban"),
    "urban.sanitation.garbage": ("垃圾清运", "urban.sanitation"),
    "urban.appearance": ("市容市貌", "urban"),
    "rural": ("农业农村", None),
    "rural.village_affairs": ("村务管理", "rural"),
    "utilities": ("水电气暖", None),
}
DEPTS = [
    Dept("urban_management", "城管局", "functional", None, True),
    Dept("environment", "环保局", "functional", None, True),
    Dept("water_supply", "自来水公司", "functional", None, False),  # inactive
    Dept("street_pudong", "蒲东街道办事处", "territorial", "street_pudong", True),
    Dept("town_naoli", "恼里镇", "territorial", "town_naoli", True),
]
PUDONG_CELL = ["pd-c001-g01", "pd-c001", "street_pudong", "changyuan"]
NAOLI_CELL = ["nl-c001-g01", "nl-c001", "town_naoli", "changyuan"]
NAMES = {"street_pudong": "蒲东街道", "town_naoli": "恼里镇", "pd-c001": "第一社区"}


def catalogue(*rules: Rule) -> Catalogue:
    return Catalogue(list(rules), DEPTS, CATEGORIES)


def rule(id: int, category: str, area: str = "*", lead: str | None = None, co=(),
         co_territorial: bool = False, on_site: bool = False) -> Rule:
    return Rule(id, category, area, lead, tuple(co), co_territorial, on_site)


def resolve(cat: Catalogue, category: str | None, areas: list[str], street: str | None):
    return cat.resolve(category, areas, street, NAMES)


def test_a_county_wide_rule_for_a_parent_category_covers_its_children():
    cat = catalogue(rule(1, "urban", lead="urban_management", on_site=True))
    d = resolve(cat, "urban.sanitation.garbage", PUDONG_CELL, "street_pudong")
    assert (d.lead, d.rule, d.on_site) == ("urban_management", 1, True)
    assert any("#1" in r for r in d.reasons) and any("城管局" in r for r in d.reasons)


def test_the_most_specific_area_wins_then_the_most_specific_category():
    cat = catalogue(
        rule(1, "urban.sanitation", lead=None),  # towns: the street office collects garbage
        rule(2, "urban.sanitation", area="street_pudong", lead="urban_management"),
        rule(3, "urban.sanitation.garbage", area="changyuan", lead="environment"),
    )
    assert resolve(cat, "urban.sanitation.garbage", PUDONG_CELL, "street_pudong").rule == 2
    d = resolve(cat, "urban.sanitation.garbage", NAOLI_CELL, "town_naoli")
    assert (d.rule, d.lead) == (3, "environment")  # district area beats "*"
    d = resolve(cat, "urban.sanitation", NAOLI_CELL, "town_naoli")
    assert (d.rule, d.lead) == (1, "town_naoli")


def test_a_rule_without_a_lead_goes_to_the_street_office_of_the_location():
    cat = catalogue(rule(4, "rural.village_affairs", lead=None, on_site=True))
    assert resolve(cat, "rural.village_affairs", NAOLI_CELL, "town_naoli").lead == "town_naoli"
    assert resolve(cat, "rural.village_affairs", PUDONG_CELL,
                   "street_pudong").lead == "street_pudong"
    nowhere = resolve(cat, "rural.village_affairs", [], None)
    assert nowhere.lead is None and any("请派单员" in r for r in nowhere.reasons)


def test_a_functional_matter_is_not_pushed_down_to_a_street():
    # A street-level rule handing 城管's matter to the street office is skipped, with why.
    cat = catalogue(rule(1, "urban", lead="urban_management"),
                    rule(2, "urban.appearance", area="street_pudong", lead=None))
    d = resolve(cat, "urban.appearance", PUDONG_CELL, "street_pudong")
    assert (d.lead, d.rule) == ("urban_management", 1)
    assert any("不下沉" in r and "#2" in r for r in d.reasons)


def test_an_inactive_functional_lead_is_left_to_the_dispatcher_not_given_to_the_street():
    cat = catalogue(rule(5, "utilities", lead="water_supply"))
    d = resolve(cat, "utilities", PUDONG_CELL, "street_pudong")
    assert d.lead is None and d.rule == 5 and any("停用" in r for r in d.reasons)


def test_no_rule_falls_back_to_the_street_office_and_says_so():
    d = resolve(catalogue(), "utilities", PUDONG_CELL, "street_pudong")
    assert d.lead == "street_pudong" and d.rule is None
    assert any("无" in r and "属地" in r for r in d.reasons)
    assert resolve(catalogue(), "utilities", [], None).lead is None
    unclassified = resolve(catalogue(rule(1, "urban", lead="urban_management")), None,
                           PUDONG_CELL, "street_pudong")
    assert unclassified.lead is None and "未分类" in unclassified.reasons[0]


def test_co_handlers_come_from_the_rule_and_the_territorial_office():
    cat = catalogue(rule(6, "urban.appearance", lead="urban_management",
                         co=["environment", "water_supply"], co_territorial=True))
    d = resolve(cat, "urban.appearance", NAOLI_CELL, "town_naoli")
    # The inactive department is left out; the street office joins; the lead is not repeated.
    assert d.co_handlers == ("environment", "town_naoli")
    outside = resolve(cat, "urban.appearance", [], None)
    assert outside.co_handlers == ("environment",)
    assert any("属地协办" in r for r in outside.reasons)


def test_category_chain_stops_on_a_cycle_or_an_unknown_code():
    cat = Catalogue([], DEPTS, {"a": ("A", "b"), "b": ("B", "a")})
    assert cat.category_chain("a") == ["a", "b"]
    assert cat.category_chain("zzz") == []
