"""The address geocoder on a small hand-built county, then on the demo county's gazetteer.

The small county (roads run north–south or east–west, so every expected point is plain):

    宏力大道  east–west at lat 35.200, lon 114.640 → 114.700
    山海大道  north–south at lon 114.680, lat 35.180 → 35.240 (crosses 宏力大道 at 114.680)
    人民路    north–south at lon 114.660, lat 35.190 → 35.220 (crosses 宏力大道 at 114.660)
    城关路    east–west at lat 35.230, lon 114.620 → 114.650 (ends 3 km short of 山海大道)
    环城路    a U: down lon 114.645, along lat 35.210, up lon 114.695 (crosses 宏力大道 twice)
    建设路    twice: in 蒲西街道 north–south at lon 114.650 (crosses 宏力大道), in 常村镇 far away
    G106      north–south at lon 114.610, lat 35.10 → 35.30
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely
import shapely.ops
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from shapely.geometry import shape

from dispatch.core.errors import InvalidInput
from grid.geocoder import Gazetteer, Geocoded, Place, normalise

PD, PX, NL, CC = "S_PD", "S_PX", "S_NL", "S_CC"
XF, HP, DG, ZZ_NL, ZZ_CC, WY = "C_XF", "C_HP", "C_DG", "C_ZZ_NL", "C_ZZ_CC", "C_WY"


def street(name: str, code: str, lon: float, lat: float) -> Place:
    return Place(name, "street", lon, lat, street=code, code=code)


def community(name: str, code: str, street_code: str, lon: float, lat: float) -> Place:
    return Place(name, "community", lon, lat, street=street_code, community=code, code=code)


def road(name: str, line: list[tuple[float, float]], mid: tuple[float, float],
         street_code: str | None = None) -> Place:
    return Place(name, "road", mid[0], mid[1], street=street_code, line=tuple(line))


def landmark(name: str, lon: float, lat: float, street_code: str, community_code: str) -> Place:
    return Place(name, "landmark", lon, lat, street=street_code, community=community_code)


def alias(name: str, code: str) -> Place:
    return Place(name, "alias", 0.0, 0.0, code=code)


PLACES = [
    Place("长垣市", "district", 114.67, 35.20, code="D"),
    alias("长垣县", "D"),
    street("蒲东街道", PD, 114.69, 35.205),
    street("蒲西街道", PX, 114.65, 35.205),
    street("恼里镇", NL, 114.60, 35.10),
    street("常村镇", CC, 114.75, 35.30),
    community("幸福社区", XF, PX, 114.655, 35.21),
    community("和平社区", HP, PD, 114.69, 35.21),
    community("东关社区", DG, PD, 114.70, 35.19),
    community("张庄村", ZZ_NL, NL, 114.61, 35.11),
    community("张庄村", ZZ_CC, CC, 114.76, 35.31),
    community("王营村", WY, NL, 114.59, 35.09),
    road("宏力大道", [(114.64, 35.20), (114.70, 35.20)], (114.67, 35.20)),
    road("山海大道", [(114.68, 35.18), (114.68, 35.24)], (114.68, 35.21), PD),
    road("人民路", [(114.66, 35.19), (114.66, 35.22)], (114.66, 35.205), PX),
    road("城关路", [(114.62, 35.23), (114.65, 35.23)], (114.635, 35.23), PX),
    road("环城路", [(114.645, 35.19), (114.645, 35.21), (114.695, 35.21), (114.695, 35.19)],
         (114.67, 35.21)),
    road("建设路", [(114.65, 35.19), (114.65, 35.205)], (114.65, 35.1975), PX),
    road("建设路", [(114.74, 35.30), (114.78, 35.30)], (114.76, 35.30), CC),
    road("G106", [(114.61, 35.10), (114.61, 35.30)], (114.61, 35.20)),
    landmark("人民医院", 114.657, 35.207, PX, XF),
    landmark("实验小学", 114.691, 35.211, PD, HP),
    landmark("实验小学", 114.654, 35.209, PX, XF),
    landmark("文化广场", 114.692, 35.212, PD, HP),
    landmark("文化广场", 114.701, 35.191, PD, DG),
    landmark("张庄村村委会", 114.611, 35.111, NL, ZZ_NL),
    landmark("张庄村村委会", 114.761, 35.311, CC, ZZ_CC),
    landmark("长垣市中医院", 114.672, 35.203, PD, HP),
    landmark("东方明珠花园", 114.695, 35.195, PD, DG),
    landmark("阳光花园", 114.651, 35.201, PX, XF),
    landmark("阳光家园", 114.652, 35.202, PX, XF),
    landmark("春风小区", 114.653, 35.203, PX, XF),
    landmark("幸福社区店", 114.656, 35.211, PX, XF),
    alias("蒲东", PD),
    alias("幸福小区", XF),
]


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer(iter(PLACES))  # any iterable will do


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    dx = (lon2 - lon1) * 111_320 * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, (lat2 - lat1) * 110_574)


def assert_at(g: Geocoded, lon: float, lat: float) -> None:
    assert g.outcome == "matched", g
    assert g.lon is not None and g.lat is not None
    assert metres(g.lon, g.lat, lon, lat) < 1.0, g


def has(g: Geocoded, *words: str) -> bool:
    text = "｜".join(g.reasons)
    return all(w in text for w in words)


# ---------------------------------------------------------------------------- normalising


def test_normalise_folds_full_width_and_drops_spaces_and_punctuation() -> None:
    assert normalise("  蒲东街道，宏力大道（东）１００米！ ") == "蒲东街道宏力大道东100米"


def test_region_and_district_prefixes_are_dropped(gaz: Gazetteer) -> None:
    for text in ("河南省新乡市长垣市人民医院", "长垣县 人民医院", "河南长垣人民医院"):
        g = gaz.geocode(text)
        assert g.precision == "landmark" and g.matched == ("人民医院",), text


def test_a_longer_name_starting_with_the_district_name_is_kept_whole(gaz: Gazetteer) -> None:
    for text in ("长垣市中医院", "长垣县中医院", "中医院东门"):
        g = gaz.geocode(text)
        assert_at(g, 114.672, 35.203)
        assert g.precision == "landmark" and g.matched == ("长垣市中医院",), text


# ---------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("text", ["", "   ", "\t\n", "　", None, 12345])
def test_empty_address_is_invalid_input(gaz: Gazetteer, text) -> None:
    with pytest.raises(InvalidInput) as caught:
        gaz.geocode(text)
    assert caught.value.field == "address"
    assert caught.value.message in ("address: 不能为空", "address: 须为文本")


def test_address_over_200_characters_is_invalid_input(gaz: Gazetteer) -> None:
    assert gaz.geocode("人民医院" + "附" * 196).precision == "landmark"
    with pytest.raises(InvalidInput) as caught:
        gaz.geocode("人民医院" + "附" * 197)
    assert caught.value.field == "address"
    assert caught.value.message == "address: 不能超过 200 个字符"


@pytest.mark.parametrize("text", ["123 Main Street", "!!!", "ABC-12"])
def test_text_without_chinese_is_no_match_not_an_error(gaz: Gazetteer, text: str) -> None:
    assert gaz.geocode(text) == Geocoded("no_match", None, None, None, None, None, (), False,
                                         ("地址中没有中文地名",))


@pytest.mark.parametrize("text", ["G106", "g106 ", "Ｇ１０６"])
def test_a_road_number_is_the_one_name_without_chinese(gaz: Gazetteer, text: str) -> None:
    g = gaz.geocode(text)
    assert_at(g, 114.61, 35.20)
    assert (g.precision, g.matched) == ("road", ("G106",))


@pytest.mark.parametrize("text", [
    "我想咨询一下社保缴费的问题",
    "请问办理居住证需要带什么材料",
    "楼上邻居每天晚上很吵",
    "我的工资被拖欠了三个月",
    "长垣市",
    "河南省新乡市",
])
def test_text_naming_no_place_is_no_match(gaz: Gazetteer, text: str) -> None:
    g = gaz.geocode(text)
    assert g.outcome == "no_match" and g.lon is None and g.precision is None
    assert g.reasons == ("未匹配到地名",) and g.matched == () and not g.fuzzy


# ---------------------------------------------------------------------------- landmarks


def test_landmark_gives_its_point_street_and_community(gaz: Gazetteer) -> None:
    g = gaz.geocode("人民医院门口")
    assert_at(g, 114.657, 35.207)
    assert (g.precision, g.street, g.community, g.fuzzy) == ("landmark", PX, XF, False)
    assert g.reasons[0] == "匹配地标：人民医院"


def test_landmark_wins_over_an_intersection(gaz: Gazetteer) -> None:
    g = gaz.geocode("宏力大道与人民路交叉口人民医院对面")
    assert_at(g, 114.657, 35.207)
    assert g.precision == "landmark"


def test_repeated_landmark_is_settled_by_the_named_street(gaz: Gazetteer) -> None:
    g = gaz.geocode("蒲东街道实验小学")
    assert_at(g, 114.691, 35.211)
    assert (g.precision, g.street, g.community) == ("landmark", PD, HP)
    assert g.matched == ("蒲东街道", "实验小学")


def test_repeated_landmark_is_settled_by_the_named_community(gaz: Gazetteer) -> None:
    g = gaz.geocode("幸福社区实验小学")
    assert_at(g, 114.654, 35.209)
    assert (g.street, g.community) == (PX, XF)


def test_repeated_landmark_in_two_streets_is_no_match_with_the_reason(gaz: Gazetteer) -> None:
    g = gaz.geocode("实验小学")
    assert g.outcome == "no_match" and g.lon is None
    assert g.reasons == ("地名不唯一：实验小学（蒲东街道、蒲西街道）",)


def test_repeated_landmark_in_one_street_falls_back_to_that_street(gaz: Gazetteer) -> None:
    g = gaz.geocode("文化广场")
    assert_at(g, 114.69, 35.205)
    assert (g.precision, g.street, g.community) == ("street", PD, None)
    assert has(g, "地名不唯一：文化广场（和平社区、东关社区）", "蒲东街道")


def test_repeated_village_committee_is_settled_by_the_town(gaz: Gazetteer) -> None:
    g = gaz.geocode("恼里镇张庄村村委会")
    assert_at(g, 114.611, 35.111)
    assert (g.precision, g.street, g.community) == ("landmark", NL, ZZ_NL)
    unsettled = gaz.geocode("张庄村村委会")
    assert unsettled.outcome == "no_match"
    assert unsettled.reasons == ("地名不唯一：张庄村村委会（恼里镇、常村镇）",)


def test_landmark_outside_the_named_street_is_trusted_and_said(gaz: Gazetteer) -> None:
    g = gaz.geocode("蒲东街道人民医院")
    assert_at(g, 114.657, 35.207)
    assert (g.street, g.community) == (PX, XF)
    assert has(g, "人民医院不在蒲东街道内")
    assert g.matched == ("人民医院",)


# ---------------------------------------------------------------------------- roads


def test_intersection_is_the_crossing_of_the_two_lines(gaz: Gazetteer) -> None:
    g = gaz.geocode("长垣市蒲东街道宏力大道与山海大道交叉口东100米")
    assert_at(g, 114.68, 35.20)
    assert (g.precision, g.street, g.community) == ("intersection", PD, None)
    assert g.reasons[0] == "道路交叉口：宏力大道 × 山海大道"
    assert has(g, "东100米")
    assert g.matched == ("蒲东街道", "宏力大道", "山海大道")


@pytest.mark.parametrize("text", [
    "宏力大道和人民路交叉口", "宏力大道与人民路交汇处", "人民路宏力大道路口", "宏力大道人民路",
])
def test_intersection_wordings(gaz: Gazetteer, text: str) -> None:
    g = gaz.geocode(text)
    assert_at(g, 114.66, 35.20)
    assert g.precision == "intersection" and not g.fuzzy


def test_intersection_street_is_unknown_unless_named_or_shared(gaz: Gazetteer) -> None:
    g = gaz.geocode("宏力大道与山海大道交叉口")
    assert (g.street, g.community) == (None, None)


def test_roads_that_do_not_cross_meet_halfway_and_say_so(gaz: Gazetteer) -> None:
    g = gaz.geocode("城关路与山海大道交叉口")
    assert_at(g, 114.665, 35.23)
    assert g.precision == "intersection"
    assert has(g, "不相交")


def test_of_several_crossings_the_one_nearest_the_named_area_is_taken(gaz: Gazetteer) -> None:
    g = gaz.geocode("蒲东街道环城路与宏力大道交叉口")
    assert_at(g, 114.695, 35.20)
    assert has(g, "2 处相交", "蒲东街道")
    first = gaz.geocode("环城路与宏力大道交叉口")
    assert_at(first, 114.645, 35.20)  # the first along the first road named
    assert has(first, "取第一处")


def test_repeated_road_is_settled_by_the_street_or_by_the_crossing(gaz: Gazetteer) -> None:
    g = gaz.geocode("常村镇建设路")
    assert_at(g, 114.75, 35.30)  # the point of 常村镇's 建设路 nearest the town's centre
    assert (g.precision, g.street) == ("road", CC)
    crossing = gaz.geocode("建设路与宏力大道交叉口")  # only the one in 蒲西街道 crosses it
    assert_at(crossing, 114.65, 35.20)
    assert crossing.precision == "intersection"
    alone = gaz.geocode("建设路")
    assert alone.outcome == "no_match"
    assert alone.reasons == ("地名不唯一：建设路（蒲西街道、常村镇）",)


def test_two_different_streets_named_settle_nothing(gaz: Gazetteer) -> None:
    g = gaz.geocode("蒲东街道蒲西街道")
    assert g.outcome == "no_match"
    assert has(g, "多个街道", "蒲东街道", "蒲西街道")


def test_road_alone_gives_its_middle(gaz: Gazetteer) -> None:
    g = gaz.geocode("山海大道")
    assert_at(g, 114.68, 35.21)
    assert (g.precision, g.street) == ("road", PD)
    assert has(g, "道路中点")


def test_road_with_a_community_takes_the_nearest_point_of_the_road(gaz: Gazetteer) -> None:
    g = gaz.geocode("和平社区宏力大道")
    assert_at(g, 114.69, 35.20)
    assert (g.precision, g.street, g.community) == ("road", PD, HP)
    assert has(g, "最近", "和平社区")


def test_road_with_a_street_takes_the_nearest_point_of_the_road(gaz: Gazetteer) -> None:
    g = gaz.geocode("蒲西街道宏力大道")
    assert_at(g, 114.65, 35.20)
    assert (g.precision, g.street, g.community) == ("road", PX, None)


# ---------------------------------------------------------------------------- areas


def test_community_alone_gives_its_centre(gaz: Gazetteer) -> None:
    g = gaz.geocode("蒲西街道幸福社区")
    assert_at(g, 114.655, 35.21)
    assert (g.precision, g.street, g.community) == ("community", PX, XF)
    assert has(g, "仅匹配到社区，使用社区中心点")
    assert g.matched == ("蒲西街道", "幸福社区")


def test_street_alone_gives_its_centre(gaz: Gazetteer) -> None:
    g = gaz.geocode("长垣市蒲东街道")
    assert_at(g, 114.69, 35.205)
    assert (g.precision, g.street, g.community) == ("street", PD, None)
    assert has(g, "仅匹配到街道，使用街道中心点")


def test_repeated_village_without_a_town_is_no_match(gaz: Gazetteer) -> None:
    g = gaz.geocode("张庄村")
    assert g.outcome == "no_match"
    assert g.reasons == ("地名不唯一：张庄村（恼里镇、常村镇）",)


def test_repeated_village_with_its_town(gaz: Gazetteer) -> None:
    for text in ("常村镇张庄村", "常村张庄村"):  # 常村: the town's short name, at the start
        g = gaz.geocode(text)
        assert_at(g, 114.76, 35.31)
        assert (g.precision, g.street, g.community) == ("community", CC, ZZ_CC), text


def test_community_outside_the_named_street_is_trusted_and_said(gaz: Gazetteer) -> None:
    g = gaz.geocode("蒲东街道幸福社区")
    assert (g.precision, g.street, g.community) == ("community", PX, XF)
    assert has(g, "幸福社区不在蒲东街道内")


def test_alias_resolves_to_its_area(gaz: Gazetteer) -> None:
    g = gaz.geocode("幸福小区")
    assert_at(g, 114.655, 35.21)
    assert (g.precision, g.community) == ("community", XF)
    assert has(g, "别名：幸福小区 → 幸福社区")
    short = gaz.geocode("蒲东")
    assert (short.precision, short.street) == ("street", PD)
    assert has(short, "别名：蒲东 → 蒲东街道")


def test_two_character_alias_inside_an_address_does_not_count(gaz: Gazetteer) -> None:
    g = gaz.geocode("幸福社区蒲东一侧")
    assert (g.precision, g.street, g.community) == ("community", PX, XF)
    assert not has(g, "蒲东")


def test_two_character_alias_at_the_start_narrows_the_rest(gaz: Gazetteer) -> None:
    g = gaz.geocode("蒲东实验小学")
    assert_at(g, 114.691, 35.211)
    assert g.matched == ("蒲东街道", "实验小学")


# ---------------------------------------------------------------------------- typos


def test_typo_in_a_road_name_still_finds_the_crossing(gaz: Gazetteer) -> None:
    g = gaz.geocode("宏力大到与人民路交叉口")
    assert_at(g, 114.66, 35.20)
    assert g.precision == "intersection" and g.fuzzy
    assert has(g, "模糊匹配：宏力大到 → 宏力大道")
    assert g.matched == ("宏力大道", "人民路")


def test_typo_in_a_landmark_name(gaz: Gazetteer) -> None:
    g = gaz.geocode("东方明株花园3号楼")
    assert_at(g, 114.695, 35.195)
    assert g.precision == "landmark" and g.fuzzy
    assert has(g, "模糊匹配：东方明株花园 → 东方明珠花园")


def test_typo_in_a_community_name(gaz: Gazetteer) -> None:
    g = gaz.geocode("蒲西街道幸福社去")
    assert (g.precision, g.community, g.fuzzy) == ("community", XF, True)


def test_a_typo_equally_close_to_two_names_is_not_guessed(gaz: Gazetteer) -> None:
    g = gaz.geocode("阳光乐园")  # 阳光花园 or 阳光家园?
    assert g.outcome == "no_match" and not g.fuzzy


def test_village_committee_shorthand_and_typo(gaz: Gazetteer) -> None:
    short = gaz.geocode("恼里镇张庄村委会")  # 村委会 for 村村委会, as it is usually written
    assert_at(short, 114.611, 35.111)
    assert (short.precision, short.community, short.fuzzy) == ("landmark", ZZ_NL, False)
    typo = gaz.geocode("恼里镇张庄村村为会")  # the typo swallows the village name it extends
    assert_at(typo, 114.611, 35.111)
    assert (typo.precision, typo.community, typo.fuzzy) == ("landmark", ZZ_NL, True)
    assert has(typo, "模糊匹配：张庄村村为会 → 张庄村村委会")


def test_an_exact_area_name_is_not_read_as_a_typo_of_a_longer_name(gaz: Gazetteer) -> None:
    g = gaz.geocode("蒲西街道幸福社区")  # one deletion from 幸福社区店, but exact as it stands
    assert (g.precision, g.fuzzy) == ("community", False)


@pytest.mark.parametrize("text", ["春天小区", "红力大道"])
def test_a_typo_in_a_two_character_proper_part_is_another_place(gaz: Gazetteer,
                                                                 text: str) -> None:
    assert gaz.geocode(text).outcome == "no_match"  # not 春风小区, not 宏力大道


def test_exact_matches_need_no_typo_tolerance(gaz: Gazetteer) -> None:
    assert not gaz.geocode("宏力大道与人民路交叉口").fuzzy


def test_three_character_names_are_not_matched_with_a_typo(gaz: Gazetteer) -> None:
    assert gaz.geocode("人民街").outcome == "no_match"  # 人民路 minus one character


# ---------------------------------------------------------------------------- search


def test_search_by_prefix_puts_short_names_first(gaz: Gazetteer) -> None:
    names = [p.name for p in gaz.search("蒲")]
    assert names[:2] == ["蒲东街道", "蒲西街道"]


def test_search_returns_every_place_of_a_repeated_name(gaz: Gazetteer) -> None:
    found = gaz.search("实验")
    assert [(p.name, p.street) for p in found] == [("实验小学", PD), ("实验小学", PX)]


def test_search_resolves_aliases_and_respects_limit(gaz: Gazetteer) -> None:
    found = gaz.search("幸福小")
    assert found[0].name == "幸福社区" and found[0].kind == "community"
    assert len(gaz.search("社区", limit=2)) == 2
    assert gaz.search("  ") == [] and gaz.search("蒲", limit=0) == []


def test_search_with_a_whole_address_lists_the_places_it_names(gaz: Gazetteer) -> None:
    names = {p.name for p in gaz.search("蒲东街道宏力大道与山海大道交叉口")}
    assert {"蒲东街道", "宏力大道", "山海大道"} <= names


def test_search_tolerates_a_typo(gaz: Gazetteer) -> None:
    assert gaz.search("东方明株花园")[0].name == "东方明珠花园"


def test_one_gazetteer_serves_many_threads_alike(gaz: Gazetteer) -> None:
    texts = ["人民医院门口", "宏力大到与人民路交叉口", "蒲东街道环城路与宏力大道交叉口",
             "张庄村", "蒲西街道幸福社去", "和平社区宏力大道"] * 50
    alone = [gaz.geocode(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(gaz.geocode, texts)) == alone


def test_place_kind_is_checked() -> None:
    with pytest.raises(ValueError):
        Place("某地", "village", 114.0, 35.0)


# ---------------------------------------------------------------------------- the demo county

DATA = Path(__file__).resolve().parents[2] / "grid" / "data"
GRID_FILE = DATA / "demo_grid.geojson"
GAZETTEER_FILE = DATA / "demo_gazetteer.json"


def demo_places() -> tuple[list[Place], dict[str, dict]]:
    """Places from the demo files (areas at their point on surface), and the areas by code."""
    grid = json.loads(GRID_FILE.read_text(encoding="utf-8"))
    items = json.loads(GAZETTEER_FILE.read_text(encoding="utf-8"))
    areas: dict[str, dict] = {}
    places: list[Place] = []
    district = None
    for feature in grid["features"]:
        props = feature["properties"]
        level, code = props["level"], props["code"]
        if level not in ("district", "street", "community"):
            continue
        point = shapely.point_on_surface(shape(feature["geometry"]))
        areas[code] = props
        if level == "district":
            district = district or code
            places.append(Place(props["name"], level, point.x, point.y, code=code))
        elif level == "street":
            places.append(Place(props["name"], level, point.x, point.y, street=code, code=code))
        else:
            places.append(Place(props["name"], level, point.x, point.y,
                                street=props["parent"], community=code, code=code))
    for item in items:
        kind, line = item["kind"], item.get("line")
        code = (item.get("community") or item.get("street") or district) \
            if kind == "alias" else None
        places.append(Place(item["name"], kind, item["lon"], item["lat"],
                            street=item.get("street"), community=item.get("community"),
                            code=code, line=tuple(map(tuple, line)) if line else None))
    return places, areas


def nearest_on_ground(lines: list[tuple[tuple[float, float], ...]], lon: float,
                      lat: float) -> list[tuple[float, float, float]]:
    """For each line, its point nearest to (lon, lat) and the distance in metres, computed in
    an azimuthal equidistant projection centred on (lon, lat): exact distances from it."""
    aeqd = pyproj.Transformer.from_crs(
        "EPSG:4326", pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84"),
        always_xy=True)

    def forward(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(aeqd.transform(xy[:, 0], xy[:, 1]))

    out = []
    origin = shapely.Point(0, 0)
    for line in lines:
        local = shapely.transform(shapely.LineString(line), forward)
        near = shapely.ops.nearest_points(local, origin)[0]
        back_lon, back_lat = aeqd.transform(near.x, near.y, direction="INVERSE")
        out.append((back_lon, back_lat, local.distance(origin)))
    return out


def typo(name: str) -> str:
    """`name` with its middle character replaced by one no place name here uses there."""
    i = len(name) // 2
    return name[:i] + ("圆" if name[i] != "圆" else "园") + name[i + 1:]


def demo_table(places: list[Place], areas: dict[str, dict]) -> list[tuple[str, dict]]:
    """Addresses built from the demo gazetteer, each with what it must resolve to."""
    rng = random.Random(12345)
    names = Counter(p.name for p in places)
    by_kind: dict[str, list[Place]] = defaultdict(list)
    for p in places:
        by_kind[p.kind].append(p)
    street_name = {c: a["name"] for c, a in areas.items() if a["level"] == "street"}
    unique = {kind: [p for p in ps if names[p.name] == 1] for kind, ps in by_kind.items()}
    table: list[tuple[str, dict]] = []

    def at(p: Place, precision: str, **more: object) -> dict:
        return {"precision": precision, "street": p.street, "community": p.community,
                "point": (p.lon, p.lat), **more}

    # 街道名 + 地标名, and the landmark alone after the district's old name
    for p in rng.sample(unique["landmark"], 15):
        table.append((f"{street_name[p.street]}{p.name}", at(p, "landmark")))
    for p in rng.sample(unique["landmark"], 5):
        table.append((f"长垣县 {p.name}（东门）", at(p, "landmark")))

    # A与B交叉口: pairs of roads that cross exactly once
    roads = [p for p in unique["road"] if p.line]
    lines = {p.name: shapely.LineString(p.line) for p in roads}
    crossings = []
    for i, a in enumerate(roads):
        for b in roads[i + 1:]:
            meet = lines[a.name].intersection(lines[b.name])
            if meet.geom_type == "Point":
                crossings.append((a, b, meet))
    for a, b, meet in rng.sample(crossings, 10):
        word = rng.choice(["交叉口", "交汇处", "路口"])
        table.append((f"{a.name}{rng.choice(['与', '和'])}{b.name}{word}",
                      {"precision": "intersection", "point": (meet.x, meet.y)}))

    # 镇名 + 村名 + 村委会, and 镇名 + 村名
    committees = {p.community: p for p in unique["landmark"] if p.name.endswith("村委会")}
    villages = [p for p in unique["community"] if p.name.endswith("村") and p.code in committees]
    for p in rng.sample(villages, 10):
        table.append((f"{street_name[p.street]}{p.name}村委会", at(committees[p.code],
                                                                   "landmark")))
    for p in rng.sample(villages, 5):
        table.append((f"{street_name[p.street]}{p.name}", at(p, "community")))

    # 街道名 + 社区名; the town's short name (an alias) + 村名
    urban = [p for p in unique["community"] if p.name.endswith("社区")]
    for p in rng.sample(urban, 5):
        table.append((f"{street_name[p.street]}{p.name}", at(p, "community")))
    short = {p.code: p.name for p in by_kind["alias"] if len(p.name) == 2 and p.code in
             street_name}
    for p in rng.sample([v for v in villages if v.street in short], 5):
        table.append((f"{short[p.street]}{p.name}", at(p, "community")))

    # 社区 + 道路: the point of the road nearest the community's point
    near = []
    for c in rng.sample(urban, 20):
        found = nearest_on_ground([r.line for r in roads], c.lon, c.lat)
        near.extend((c, r, lon, lat) for r, (lon, lat, gap) in zip(roads, found, strict=True)
                    if gap < 1500)
    for c, r, lon, lat in rng.sample(near, 5):
        table.append((f"{c.name}附近的{r.name}", {"precision": "road", "street": c.street,
                                                 "community": c.code, "point": (lon, lat)}))

    # streets after every prefix
    for p in rng.sample(by_kind["street"], 5):
        table.append((f"河南省新乡市长垣市{p.name}", at(p, "street")))

    # typos: 大道 → 大到 in a crossing, one character in a long landmark name, 社区 → 社去
    typed = [(a, b, m) for a, b, m in crossings if a.name.endswith(("大道", "大街"))]
    for a, b, meet in rng.sample(typed, min(3, len(typed))):
        wrong = a.name[:-1] + ("到" if a.name.endswith("道") else "接")
        table.append((f"{wrong}与{b.name}交叉口",
                      {"precision": "intersection", "point": (meet.x, meet.y), "fuzzy": True}))
    keys = [normalise(p.name) for p in places if p.kind != "alias"]
    long_ones = [p for p in unique["landmark"] if 6 <= len(p.name) < 10]
    rng.shuffle(long_ones)
    # a typo one edit from two names is a coin toss (and rightly no match), not a typo test
    lonely = [p for p in long_ones if len(process.extract(
        normalise(typo(p.name)), keys, scorer=Levenshtein.distance, score_cutoff=1,
        limit=None)) == 1]
    for p in lonely[:3]:
        table.append((f"{street_name[p.street]}{typo(p.name)}", at(p, "landmark", fuzzy=True)))
    for p in rng.sample(urban, 3):
        table.append((f"{street_name[p.street]}{p.name[:-1]}去", at(p, "community", fuzzy=True)))
    return table


@pytest.fixture(scope="module")
def demo() -> tuple[Gazetteer, list[tuple[str, dict]]]:
    if not (GRID_FILE.exists() and GAZETTEER_FILE.exists()):
        pytest.fail(f"demo data missing: {GRID_FILE.name} and {GAZETTEER_FILE.name}")
    places, areas = demo_places()
    return Gazetteer(places), demo_table(places, areas)


def test_demo_table_covers_every_kind_of_address(demo) -> None:
    _, table = demo
    assert len(table) >= 30
    assert Counter(e["precision"] for _, e in table).keys() == {
        "landmark", "intersection", "road", "community", "street"}
    assert sum(bool(e.get("fuzzy")) for _, e in table) >= 6


def test_demo_table_addresses_resolve_as_expected(demo) -> None:
    gaz, table = demo
    wrong = []
    for text, expect in table:
        g = gaz.geocode(text)
        got = {"precision": g.precision, "fuzzy": g.fuzzy}
        want = {"precision": expect["precision"], "fuzzy": expect.get("fuzzy", False)}
        for key in ("street", "community"):
            if key in expect:
                got[key], want[key] = getattr(g, key), expect[key]
        close = g.lon is not None and g.lat is not None and \
            metres(g.lon, g.lat, *expect["point"]) < 1.0
        if got != want or not close:
            wrong.append(f"{text}: expected {want} at {expect['point']}, got {g}")
    assert not wrong, f"{len(wrong)} of {len(table)} wrong:\n" + "\n".join(wrong)


@pytest.mark.parametrize("text", [
    "我想咨询一下社保缴费的问题",
    "请问办理身份证需要带什么材料",
    "孩子上学的事情想问一下政策",
    "楼上邻居装修太吵了晚上睡不着",
    "我的工资被老板拖欠三个月了",
    "小区门口有人占道经营，堵住了出口",
    "医保报销比例是多少",
    "最近天气很热空调坏了",
    "我家附近的垃圾好几天没人清运了",
    "路灯坏了一个星期没人修",
])
def test_demo_unrelated_sentences_are_no_match(demo, text: str) -> None:
    gaz, _ = demo
    g = gaz.geocode(text)
    assert g.outcome == "no_match" and not g.fuzzy, g


def test_demo_examples_from_the_brief(demo) -> None:
    gaz, _ = demo
    crossing = gaz.geocode("长垣市蒲东街道宏力大道与山海大道交叉口东100米")
    assert (crossing.precision, crossing.street) == ("intersection", "street_pudong")
    assert gaz.geocode("人民医院门口").matched == ("长垣市人民医院",)
    assert gaz.geocode("长垣县城关路").precision == "road"
    typo_crossing = gaz.geocode("宏力大到与人民路交叉口")
    assert typo_crossing.precision == "intersection" and typo_crossing.fuzzy
