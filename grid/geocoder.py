"""Address geocoder: free text ("蒲东街道宏力大道与山海大道交叉口东100米") → a WGS-84 point with a
precision, from a gazetteer of the grid's streets and communities plus roads, landmarks and
other names (aliases).

How an address is read:

1. Normalise: NFKC (full-width → half-width), keep only letters and digits, then drop leading
   region prefixes (河南省, 新乡市, and the district's own names: the district is the whole
   jurisdiction, so naming it adds nothing).
2. Exact matching: every gazetteer spelling found as a substring, longest first, without
   overlaps. Spellings of two characters (蒲东, 张庄) are weak: they count only at the very start
   of the address or when nothing longer matched, since they hide inside other words.
3. Typo tolerance, unless a landmark matched exactly: names of four or more characters found
   in the unmatched rest of the text within one edit (two from ten characters on), with a
   unique best; a name with a two-character proper part (宏力 of 宏力大道) keeps that part as
   written. A typo match may swallow a weak spelling, or an area name it extends
   (翟桥村 in a misspelt 翟桥村村委会), never an exact road or landmark.
4. Resolution, most precise first: landmark > intersection of two roads > road > community >
   street. A street or community named alongside narrows repeated names; a name still repeated
   is never settled by picking one: the address falls back to the area all its candidates share,
   or to no match, and says why.

A `Gazetteer` is built once per grid version and shared by threads: nothing in it changes after
`__init__`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput
from grid.models import COMMUNITY, DISTRICT, STREET, Area, GazetteerEntry

ROAD, LANDMARK, ALIAS = "road", "landmark", "alias"
KINDS: tuple[str, ...] = (DISTRICT, STREET, COMMUNITY, ROAD, LANDMARK, ALIAS)
INTERSECTION = "intersection"
# Precisions of a match, most precise first.
PRECISIONS: tuple[str, ...] = (LANDMARK, INTERSECTION, ROAD, COMMUNITY, STREET)
MATCHED, NO_MATCH = "matched", "no_match"

MAX_ADDRESS = 200
# Prefixes above the district that say nothing inside it; the district's own names are added
# from the gazetteer.
REGION_PREFIXES: tuple[str, ...] = ("中华人民共和国", "中国", "河南省", "河南", "新乡市", "新乡")

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_OFFSET = re.compile(r"(?:往|向)?[东南西北]{1,2}(?:侧|边|面|方向)?(?:约|大约)?\d+(?:米|公里|m|km)")
# Characters of ordinary speech that a place name does not gain by a typo: a window that needs
# one of them to reach a name is a sentence, not a misspelt name.
_SPEECH = frozenset("的了我你他她是在有吗呢吧啊请想要问说和与及或这那就都也还很")
# Generic endings taken off street and community names to get the short names people use.
_STREET_ENDINGS = ("街道办事处", "办事处", "街道", "镇", "乡")
_COMMUNITY_ENDINGS = ("社区居委会", "居委会", "村委会", "社区", "村")
_DISTRICT_ENDINGS = ("市", "县", "区")

# Generic endings of road and place names. When what is left of a name is two characters or
# fewer ("宏力" of 宏力大道), a typo there leaves one character: that is another place, not a
# misspelling (春天小区 is not 春风小区), so the left part must appear as written.
_GENERIC_ENDINGS = tuple(sorted((
    "大道", "大街", "路", "街", "巷", "胡同", "小区", "花园", "家园", "新城", "社区",
    "村委会", "村", "居委会", "医院", "卫生院", "小学", "中学", "学校", "幼儿园", "公园",
    "广场", "市场", "超市", "酒店", "宾馆", "银行", "中心", "大厦", "公司", "工厂", "厂",
    "车站", "站", "局", "所", "院", "苑", "府", "城", "街道", "镇", "乡", "办事处"),
    key=len, reverse=True))
_RANK = {LANDMARK: 0, ROAD: 1, COMMUNITY: 2, STREET: 3, DISTRICT: 4}
_SEARCH_ORDER = {STREET: 0, COMMUNITY: 1, ROAD: 2, LANDMARK: 3, DISTRICT: 4}
_WEAK = 2  # spellings this short are weak (see the module docstring)
_FUZZY_MIN = 4  # one edit in three characters leaves two: noise, not a typo
_M_PER_DEG = 110_950.0  # a degree of latitude near 35°N, for the gaps told to the operator
_E2 = 0.00669437999014  # WGS-84 first eccentricity squared


@dataclass(frozen=True)
class Place:
    """One gazetteer entry: an area, a road, a landmark, or another name of an area."""

    name: str
    kind: str  # district | street | community | road | landmark | alias
    lon: float
    lat: float
    street: str | None = None  # street code it lies in (a street: its own code)
    community: str | None = None  # community code (a community: its own code)
    code: str | None = None  # area code; for an alias, the code of the area it names
    line: tuple[tuple[float, float], ...] | None = None  # roads: polyline, WGS-84

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"place {self.name!r}: unknown kind {self.kind!r}")


@dataclass(frozen=True)
class Geocoded:
    """What an address resolved to, with the reasons shown to the operator."""

    outcome: str  # matched | no_match
    lon: float | None
    lat: float | None
    precision: str | None  # landmark | intersection | road | community | street
    street: str | None
    community: str | None
    matched: tuple[str, ...]  # gazetteer names used
    fuzzy: bool  # a typo-tolerant match was needed
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class _Entry:
    """A spelling's target place, and the other name it was reached by, if any."""

    place: Place
    alias: str | None


@dataclass(frozen=True)
class _Match:
    """A spelling found in the address at [start, end)."""

    start: int
    end: int
    typed: str
    entries: tuple[_Entry, ...]
    fuzzy: bool = False

    @property
    def kind(self) -> str:
        return self.entries[0].place.kind

    @property
    def places(self) -> list[Place]:
        return [e.place for e in self.entries]


def normalise(text: str) -> str:
    """NFKC, lower case, and only letters and digits kept (no spaces, punctuation, symbols)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def _no_match(*reasons: str) -> Geocoded:
    return Geocoded(NO_MATCH, None, None, None, None, None, (), False, tuple(reasons))


def _strip_ending(name: str, endings: Sequence[str]) -> str | None:
    for ending in endings:
        if name.endswith(ending) and len(name) - len(ending) >= _WEAK:
            return name[: -len(ending)]
    return None


class Gazetteer:
    """Place names of one grid version with their lookup structures, read-only once built."""

    def __init__(self, places: Iterable[Place], *,
                 region_prefixes: Sequence[str] = REGION_PREFIXES) -> None:
        self._places: tuple[Place, ...] = tuple(places)
        areas = [p for p in self._places if p.kind in (DISTRICT, STREET, COMMUNITY)]
        self._areas: dict[str, Place] = {p.code: p for p in areas if p.code}
        districts = [p for p in areas if p.kind == DISTRICT]
        lats = sorted(p.lat for p in self._places) or [35.0]
        # Crossings are found in a frame whose east and north units are equally long on the
        # ground near the county, so that "nearest" there is nearest on the ground.
        self._k = _east_scale(lats[len(lats) // 2])
        self._geoms: dict[int, BaseGeometry] = {
            id(p): self._geometry(p) for p in self._places if p.kind == ROAD}

        index: dict[str, list[_Entry]] = defaultdict(list)
        for p in self._places:
            if p.kind != ALIAS:
                index[normalise(p.name)].append(_Entry(p, None))
        for p in self._places:
            if p.kind == ALIAS:
                target = self._aliased(p, districts)
                if target is not None:
                    index[normalise(p.name)].append(_Entry(target, p.name))
        explicit = set(index)
        derived: list[tuple[str, Place]] = []
        for p in areas:
            ending = {STREET: _STREET_ENDINGS, COMMUNITY: _COMMUNITY_ENDINGS,
                      DISTRICT: _DISTRICT_ENDINGS}[p.kind]
            stem = _strip_ending(p.name, ending)
            if stem:
                derived.append((stem, p))
                if p.kind == DISTRICT:  # old names: 长垣县 became 长垣市 in 2019
                    derived.extend((stem + e, p) for e in _DISTRICT_ENDINGS)
        district_names = {normalise(s) for s, p in derived if p.kind == DISTRICT}
        district_names |= {k for k, es in index.items() if es[0].place.kind == DISTRICT}
        for p in self._places:  # "长垣市人民医院" is said "人民医院"
            if p.kind in (ROAD, LANDMARK):
                key = normalise(p.name)
                if key.endswith("村村委会"):  # and "翟桥村村委会" is written "翟桥村委会"
                    derived.append((key[:-4] + "村委会", p))
                for prefix in district_names:
                    if key.startswith(prefix) and len(key) - len(prefix) > _WEAK:
                        derived.append((key[len(prefix):], p))
        for spelling, p in derived:
            key = normalise(spelling)
            if key and key not in explicit:
                index[key].append(_Entry(p, spelling))

        self._index: dict[str, tuple[_Entry, ...]] = {}
        for key, entries in index.items():
            if len(key) < _WEAK:
                continue
            best = min(_RANK[e.place.kind] for e in entries)
            seen: set[int] = set()
            kept: list[_Entry] = []
            for e in entries:
                if _RANK[e.place.kind] == best and id(e.place) not in seen:
                    seen.add(id(e.place))
                    kept.append(e)
            self._index[key] = tuple(kept)
        self._prefixes = frozenset(k[:i] for k in self._index for i in range(1, len(k) + 1))
        # Typo candidates by pigeonhole: a name within one edit keeps one of its two halves
        # as written (within two edits, one of three parts); a name with a short proper part
        # keeps that part (see _GENERIC_ENDINGS). So only names with such a piece in the text
        # are measured, instead of every name against every stretch of text.
        pieces: dict[str, list[str]] = defaultdict(list)
        for key, ranked in self._index.items():
            if len(key) >= _FUZZY_MIN and ranked[0].place.kind != DISTRICT:
                for piece in _pieces(key):
                    pieces[piece].append(key)
        self._pieces: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in pieces.items()}
        self._piece_lengths: tuple[int, ...] = tuple(sorted({len(k) for k in pieces}))
        prefixes = {normalise(s) for s in region_prefixes} | district_names
        self._region_prefixes = tuple(sorted((p for p in prefixes if p), key=len, reverse=True))
        self._names: tuple[tuple[str, Place], ...] = tuple(
            (key, e.place) for key, es in self._index.items() for e in es
            if e.place.kind != DISTRICT)
        self._name_keys: tuple[str, ...] = tuple(key for key, _ in self._names)

    # ------------------------------------------------------------------ building

    def _aliased(self, alias: Place, districts: list[Place]) -> Place | None:
        code = alias.code or alias.community or alias.street
        if code is not None:
            return self._areas.get(code)
        return districts[0] if len(districts) == 1 else None

    def _geometry(self, road: Place) -> BaseGeometry:
        if road.line and len(road.line) >= 2:
            return LineString([(lon * self._k, lat) for lon, lat in road.line])
        return Point(road.lon * self._k, road.lat)

    def _lonlat(self, p: Point) -> tuple[float, float]:
        return p.x / self._k, p.y

    def _point(self, place: Place) -> Point:
        return Point(place.lon * self._k, place.lat)

    # ------------------------------------------------------------------ public

    @property
    def places(self) -> tuple[Place, ...]:
        """Every place it was built from, aliases included."""
        return self._places

    def geocode(self, text: str) -> Geocoded:
        """Resolve an address to a point and precision, or to a reasoned no-match."""
        if not isinstance(text, str):
            raise InvalidInput("address: must be text", field="address")
        if not text.strip():
            raise InvalidInput("address: is empty", field="address")
        if len(text.strip()) > MAX_ADDRESS:
            raise InvalidInput(f"address: at most {MAX_ADDRESS} characters", field="address")
        body = self._strip_region(normalise(text))
        matches = self._scan(body)
        if not _CJK.search(body) and not any(m.kind != DISTRICT for m in matches):
            # a road number such as G106 is the one place name without Chinese characters
            if _CJK.search(text):
                return _no_match("未匹配到地名")
            return _no_match("地址中没有中文地名")
        if self._wants_fuzzy(matches):
            matches = self._with_fuzzy(body, matches)
        return self._resolve(body, matches)

    def search(self, text: str, limit: int = 10) -> list[Place]:
        """Best matching places for an address autocomplete box, best first."""
        if not isinstance(text, str) or limit <= 0:
            return []
        query = normalise(text)
        query = self._strip_region(query) or query
        if not query:
            return []
        ranked: dict[int, tuple[tuple[int, int, int, int, str], Place]] = {}

        def offer(rank: int, place: Place, score: float = 100.0) -> None:
            # what is being typed is most often an address's start: the areas come first;
            # of the places a whole address names, the most precise
            kind = _SEARCH_ORDER[place.kind] if rank < 2 else _RANK[place.kind]
            order = (rank, round(100 - score), kind, len(place.name), place.name)
            if id(place) not in ranked or order < ranked[id(place)][0]:
                ranked[id(place)] = (order, place)

        for key, place in self._names:
            if key.startswith(query):
                offer(0, place)
            elif query in key:
                offer(1, place)
        for m in self._scan(query):  # a whole address typed: the places it names
            for place in m.places:
                if place.kind != DISTRICT:
                    offer(2, place)
        if len(ranked) < limit and len(query) > _WEAK:
            for key, score, i in process.extract(query, self._name_keys,
                                                 scorer=fuzz.partial_ratio,
                                                 score_cutoff=75, limit=limit * 2):
                if len(key) > _WEAK:
                    offer(3, self._names[i][1], score)
        return [place for _, place in sorted(ranked.values(), key=lambda v: v[0])][:limit]

    # ------------------------------------------------------------------ reading the text

    def _strip_region(self, body: str) -> str:
        changed = True
        while changed and body:
            changed = False
            longest = self._longest_at_start(body)
            for prefix in self._region_prefixes:
                # a longer name starting here wins: "长垣市人民医院" is one place
                if body.startswith(prefix) and longest <= len(prefix):
                    body = body[len(prefix):]
                    changed = True
                    break
        return body

    def _longest_at_start(self, body: str) -> int:
        longest, j = 0, 1
        while j <= len(body) and body[:j] in self._prefixes:
            if body[:j] in self._index and self._index[body[:j]][0].place.kind != DISTRICT:
                longest = j
            j += 1
        return longest

    def _scan(self, body: str) -> list[_Match]:
        found: list[tuple[int, int]] = []
        n = len(body)
        for i in range(n):
            j = i + 1
            while j <= n and body[i:j] in self._prefixes:
                if body[i:j] in self._index:
                    found.append((i, j))
                j += 1
        found.sort(key=lambda s: (s[0] - s[1], s[0]))
        taken = [False] * n
        chosen: list[tuple[int, int]] = []
        for i, j in found:
            if j - i > _WEAK and not any(taken[i:j]):
                taken[i:j] = [True] * (j - i)
                chosen.append((i, j))
        strong = any(self._index[body[i:j]][0].place.kind != DISTRICT for i, j in chosen)
        for i, j in sorted(s for s in found if s[1] - s[0] <= _WEAK):
            if not any(taken[i:j]) and (i == 0 or not strong):
                taken[i:j] = [True] * (j - i)
                chosen.append((i, j))
        return [_Match(i, j, body[i:j], self._index[body[i:j]]) for i, j in sorted(chosen)]

    @staticmethod
    def _wants_fuzzy(matches: list[_Match]) -> bool:
        """Typos are looked for unless a landmark, the most precise match, was found as is."""
        return not any(m.kind == LANDMARK and m.end - m.start > _WEAK for m in matches)

    def _with_fuzzy(self, body: str, matches: list[_Match]) -> list[_Match]:
        """The exact matches plus typo matches in the rest. A weak spelling yields to a typo
        match covering it ("宏力大到": 宏力大道 misspelt, not 宏力社区's short name), and so does
        an area name that a more precise name extends ("翟桥村村委会" typed "翟桥村村为会")."""
        strong = [m for m in matches if m.end - m.start > _WEAK]
        fixed = [m for m in strong if m.kind not in (STREET, COMMUNITY)]
        areas = [m for m in strong if m.kind in (STREET, COMMUNITY)]
        found = self._fuzzy(body, fixed, areas)
        kept = [m for m in matches
                if not any(m.start < f.end and f.start < m.end for f in found)]
        return sorted(kept + found, key=lambda m: m.start)

    def _fuzzy(self, body: str, fixed: list[_Match], areas: list[_Match]) -> list[_Match]:
        taken = [False] * len(body)
        for m in fixed:
            taken[m.start:m.end] = [True] * (m.end - m.start)
        segments: list[tuple[int, str]] = []
        i = 0
        while i < len(body):
            if taken[i]:
                i += 1
                continue
            j = i
            while j < len(body) and not taken[j]:
                j += 1
            if j - i >= _FUZZY_MIN - 1 and _CJK.search(body[i:j]):
                segments.append((i, body[i:j]))
            i = j
        hits: list[tuple[int, int, int, int, str]] = []  # edits, -length, start, end, key
        for offset, segment in segments:
            candidates: set[str] = set()
            for i in range(len(segment)):
                for n in self._piece_lengths:
                    if i + n > len(segment):
                        break
                    candidates.update(self._pieces.get(segment[i:i + n], ()))
            for key in sorted(candidates):
                window = _best_window(key, segment)
                if window is None:
                    continue
                edits, a, b = window[0], offset + window[1], offset + window[2]
                covered = [m for m in areas if m.start < b and a < m.end]
                if covered and (
                        any(m.start < a or m.end > b for m in covered)  # cuts an area name
                        or _RANK[self._index[key][0].place.kind] >= min(
                            _RANK[m.kind] for m in covered)  # says no more than the area
                        or (b - a) - sum(m.end - m.start for m in covered) < _WEAK):
                    continue
                hits.append((edits, -len(key), a, b, key))
        hits.sort()
        out: list[_Match] = []
        blocked: list[tuple[int, int]] = []
        for edits, _, a, b, key in hits:
            if any(a < y and x < b for x, y in blocked):
                continue
            blocked.append((a, b))
            targets = {id(e.place) for e in self._index[key]}
            rivals = [h for h in hits if h[2] < b and a < h[3] and h[0] <= edits
                      and {id(e.place) for e in self._index[h[4]]} != targets]
            if not rivals:  # a tie between two names is no typo we can settle
                out.append(_Match(a, b, body[a:b], self._index[key], fuzzy=True))
        return out

    # ------------------------------------------------------------------ resolving

    def _resolve(self, body: str, matches: list[_Match]) -> Geocoded:
        """The point of an address from its matches, in steps: the street and the community
        it names, then the most precise place that settles: a landmark, roads (a crossing or
        a point on a road), the community, the street."""
        res = _Resolution(body)
        streets = [m for m in matches if m.kind == STREET]
        named = _Named()
        self._name_streets(res, named, streets)
        self._name_community(res, named, [m for m in matches if m.kind == COMMUNITY])
        self._find_landmark(res, named, sorted((m for m in matches if m.kind == LANDMARK),
                                               key=lambda m: (m.start - m.end, m.start)))
        found = (self._at_landmark(res, named, streets)
                 or self._on_roads(res, named, [m for m in matches if m.kind == ROAD], streets)
                 or self._at_community(res, named, streets)
                 or self._at_street(res, named, streets))
        return found if found is not None else _no_match(*(res.reasons or ["未匹配到地名"]))

    def _name_streets(self, res: _Resolution, named: _Named, streets: list[_Match]) -> None:
        """The streets (街道/乡镇) the address names: one, or several (a reason)."""
        if not streets:
            return
        named.street_ctx = {p.code for m in streets for p in m.places if p.code}
        if len(named.street_ctx) > 1:
            res.reasons.append("地址中出现多个街道/乡镇：" + "、".join(
                sorted({p.name for m in streets for p in m.places})))
        elif len(named.street_ctx) == 1:
            named.street = self._areas.get(next(iter(named.street_ctx)))

    def _name_community(self, res: _Resolution, named: _Named,
                        communities: list[_Match]) -> None:
        """The community (社区/村) the address names, within the streets named; a community
        outside them that is the only one of its name wins over the street."""
        for m in communities:
            inside = [p for p in m.places
                      if named.street_ctx is None or p.street in named.street_ctx]
            if not inside and len(m.places) == 1:
                only = m.places[0]
                where = _names(self._areas, named.street_ctx)
                res.reasons.append(f"{only.name}不在{where}内，以{only.name}为准")
                inside = m.places
                named.street_ctx = {only.street} if only.street else None
                named.street = self._areas.get(only.street) if only.street else None
            inside = inside or m.places
            if named.community_match is None or (len(inside) == 1 and named.community is None):
                named.community_match, named.community_cands = m, inside
                named.community = inside[0] if len(inside) == 1 else None
        named.community_ctx = {p.code for p in named.community_cands if p.code} or None
        if named.street_ctx is None and named.community_cands and all(
                p.street for p in named.community_cands):
            named.street_ctx = {p.street for p in named.community_cands if p.street}

    def _find_landmark(self, res: _Resolution, named: _Named, landmarks: list[_Match]) -> None:
        """The landmark, the longest spelling first: the first one that settles on one place
        (within the areas named, or the only one of its name) wins."""
        for m in landmarks:
            inside = [p for p in m.places
                      if _inside(p, named.street_ctx, named.community_ctx)]
            if len(inside) == 1:
                named.landmark, named.landmark_match = inside[0], m
                break
            if not inside and len(m.places) == 1:
                landmark = named.landmark = m.places[0]
                named.landmark_match = m
                area = named.community if named.community is not None else named.street
                where = area.name if area is not None else _names(self._areas,
                                                                  named.street_ctx)
                res.reasons.append(f"{landmark.name}不在{where}内，以地标为准")
                break
            res.reasons.append(_ambiguous(self._areas, m.places[0].name, inside or m.places))
            # only candidates that agree with the named area may decide the fallback area
            named.shared = named.shared or inside
        cands = named.community_cands
        if named.community is None and len(cands) > 1 and (
                named.landmark is None
                or named.landmark.community not in (named.community_ctx or ())):
            res.reasons.append(_ambiguous(self._areas, cands[0].name, cands))

    def _at_landmark(self, res: _Resolution, named: _Named,
                     streets: list[_Match]) -> Geocoded | None:
        """The landmark's point, when one settled."""
        landmark, match = named.landmark, named.landmark_match
        if landmark is None or match is None:
            return None
        res.use(match)
        for m in streets:
            if landmark.street in {p.code for p in m.places}:
                res.use(m)
        if named.community_match is not None and landmark.community in (
                named.community_ctx or ()):
            res.use(named.community_match)
        res.reasons.insert(0, f"匹配地标：{landmark.name}")
        return res.done(landmark.lon, landmark.lat, LANDMARK, landmark.street,
                        landmark.community)

    def _on_roads(self, res: _Resolution, named: _Named, roads: list[_Match],
                  streets: list[_Match]) -> Geocoded | None:
        """A crossing of two roads, or a point on one road (the nearest to the area named),
        counted for the area named when there is one."""
        # The area the address names, as a point: for a road alone and for several crossings.
        areas = self._areas
        area_place = (named.community or _common_area(areas, named.shared, COMMUNITY)
                      or named.street or _common_area(areas, named.shared, STREET)
                      or _common_area(areas, named.community_cands, STREET))
        road_result = self._roads(res, roads, named.street_ctx, area_place)
        if road_result is None:
            return None
        lon, lat, precision, road_street, road_community = road_result
        if area_place is not None:
            res.use_area(area_place, streets, named.community_match)
            return res.done(lon, lat, precision, area_place.street, area_place.community)
        return res.done(lon, lat, precision, road_street, road_community)

    def _at_community(self, res: _Resolution, named: _Named,
                      streets: list[_Match]) -> Geocoded | None:
        """The centre of the community named, or of the one the candidates share."""
        community = named.community
        if community is not None and named.community_match is not None:
            res.use(named.community_match)
            res.use_area(community, streets, None)
            res.reasons.insert(0, f"匹配社区/村：{community.name}")
            res.reasons.append("仅匹配到社区，使用社区中心点")
            return res.done(community.lon, community.lat, COMMUNITY, community.street,
                            community.code)
        common = _common_area(self._areas, named.shared, COMMUNITY)
        if common is None:
            return None
        res.use_area(common, streets, None)
        res.reasons.append(f"使用共同所在社区/村的中心点：{common.name}")
        return res.done(common.lon, common.lat, COMMUNITY, common.street, common.code)

    def _at_street(self, res: _Resolution, named: _Named,
                   streets: list[_Match]) -> Geocoded | None:
        """The centre of the street named, or of the one the candidates share."""
        street = named.street or _common_area(self._areas, named.shared, STREET) or _common_area(
            self._areas, named.community_cands, STREET)
        if street is None:
            return None
        res.use_area(street, streets, None)
        if named.street is not None:
            res.reasons.insert(0, f"匹配街道/乡镇：{street.name}")
            res.reasons.append("仅匹配到街道，使用街道中心点")
        else:
            res.reasons.append(f"使用共同所在街道/乡镇的中心点：{street.name}")
        return res.done(street.lon, street.lat, STREET, street.code, None)

    def _roads(self, res: _Resolution, roads: list[_Match], street_ctx: set[str] | None,
               area: Place | None) -> tuple[float, float, str, str | None, str | None] | None:
        """The intersection of the first two roads that settle, else one road's point."""
        distinct: list[tuple[_Match, list[Place]]] = []
        for m in roads:
            if any(m.places[0].name == d.places[0].name for d, _ in distinct):
                continue
            inside = [p for p in m.places if street_ctx is None or p.street in street_ctx]
            distinct.append((m, inside or m.places))
        for x in range(len(distinct)):
            for y in range(x + 1, len(distinct)):
                found = self._intersection(res, distinct[x], distinct[y], area)
                if found is not None:
                    return found
        for m, candidates in distinct:
            if len(candidates) != 1:
                res.reasons.append(_ambiguous(self._areas, m.places[0].name, candidates))
                continue
            road = candidates[0]
            res.use(m)
            if area is not None and road.line and len(road.line) >= 2:
                lon, lat = _nearest_on_line(road.line, area.lon, area.lat)
                res.reasons.insert(0, f"匹配道路：{road.name}，取道路上距{area.name}中心最近的点")
            else:
                lon, lat = road.lon, road.lat
                res.reasons.insert(0, f"仅匹配到道路：{road.name}，使用道路中点")
            return lon, lat, ROAD, road.street, road.community
        return None

    def _intersection(self, res: _Resolution, first: tuple[_Match, list[Place]],
                      second: tuple[_Match, list[Place]], area: Place | None,
                      ) -> tuple[float, float, str, str | None, str | None] | None:
        (ma, cands_a), (mb, cands_b) = first, second
        crossing = [(a, b, pts) for a in cands_a for b in cands_b
                    if (pts := self._crossings(a, b))]
        if len(crossing) > 1:
            res.reasons.append(f"道路交叉口不唯一：{ma.places[0].name} × {mb.places[0].name}"
                               f"（{len(crossing)} 处同名道路相交）")
            return None
        res.use(ma)
        res.use(mb)
        if crossing:
            a, b, points = crossing[0]
            res.reasons.insert(0, f"道路交叉口：{a.name} × {b.name}")
            if len(points) > 1 and area is not None:
                target = self._point(area)
                point = min(points, key=target.distance)
                res.reasons.append(f"两路有 {len(points)} 处相交，取距{area.name}中心最近的一处")
            else:
                point = points[0]
                if len(points) > 1:
                    res.reasons.append(f"两路有 {len(points)} 处相交，取第一处")
        elif len(cands_a) == 1 and len(cands_b) == 1:
            a, b = cands_a[0], cands_b[0]
            pa, pb = nearest_points(self._geoms[id(a)], self._geoms[id(b)])
            point = Point((pa.x + pb.x) / 2, (pa.y + pb.y) / 2)
            gap = pa.distance(pb) * _M_PER_DEG
            res.reasons.insert(0, f"道路交叉口：{a.name} × {b.name}")
            res.reasons.append(f"两条道路不相交（最近处相距约 {gap:.0f} 米），取最近处的中点")
        else:
            res.unuse(ma)
            res.unuse(mb)
            return None
        lon, lat = self._lonlat(point)
        street = a.street if a.street == b.street else None
        community = a.community if a.community == b.community else None
        return lon, lat, INTERSECTION, street, community

    def _crossings(self, a: Place, b: Place) -> list[Point]:
        line = self._geoms[id(a)]
        meet = line.intersection(self._geoms[id(b)])
        if meet.is_empty:
            return []
        points = [g if isinstance(g, Point) else g.representative_point()
                  for g in shapely.get_parts(meet)]
        # "the first" crossing is the first along the first road named
        return sorted(points, key=line.project)


@dataclass
class _Named:
    """What an address names, as its resolution finds out: the streets (codes) and the one
    street, the community and its candidates, the landmark, and the candidates a repeated
    landmark leaves for the fallback."""

    street_ctx: set[str] | None = None
    street: Place | None = None
    community: Place | None = None
    community_cands: list[Place] = field(default_factory=list)
    community_match: _Match | None = None
    community_ctx: set[str] | None = None
    landmark: Place | None = None
    landmark_match: _Match | None = None
    shared: list[Place] = field(default_factory=list)


class _Resolution:
    """The matches used and the reasons given while one address is resolved."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.used: list[_Match] = []
        self.reasons: list[str] = []

    def use(self, match: _Match) -> None:
        if match not in self.used:
            self.used.append(match)

    def unuse(self, match: _Match) -> None:
        if match in self.used:
            self.used.remove(match)

    def use_area(self, area: Place, streets: list[_Match], community: _Match | None) -> None:
        """Count the street and community spellings that agree with the area used."""
        for m in streets:
            if area.street in {p.code for p in m.places}:
                self.use(m)
        if community is not None and area.community in {p.code for p in community.places}:
            self.use(community)

    def done(self, lon: float, lat: float, precision: str, street: str | None,
             community: str | None) -> Geocoded:
        used = sorted(self.used, key=lambda m: m.start)
        names: list[str] = []
        notes: list[str] = []
        for m in used:
            place = _used_place(m, street, community)
            if place.name not in names:
                names.append(place.name)
            if m.fuzzy:
                notes.append(f"模糊匹配：{m.typed} → {place.name}")
            elif m.entries[0].alias is not None:
                notes.append(f"别名：{m.entries[0].alias} → {place.name}")
        offset = _OFFSET.search(self.body)
        if offset:
            notes.append(f"未计入方位偏移：{offset.group(0)}")
        reasons = tuple(dict.fromkeys([*self.reasons, *notes]))
        return Geocoded(MATCHED, lon, lat, precision, street, community, tuple(names),
                        any(m.fuzzy for m in used), reasons)


def _east_scale(lat: float) -> float:
    """Ground length of a degree of longitude over one of latitude, on the WGS-84 ellipsoid."""
    # cos(lat) alone (a sphere) is 0.45 % off at 35°N: 4.5 m at a kilometre
    sin2 = math.sin(math.radians(lat)) ** 2
    return math.cos(math.radians(lat)) * (1 - _E2 * sin2) / (1 - _E2)


def _nearest_on_line(line: Sequence[tuple[float, float]], lon: float,
                     lat: float) -> tuple[float, float]:
    """The point of a polyline nearest to (lon, lat), measured on the ground."""
    # A frame centred on the point itself: metres east and north are exact there, and within
    # a few kilometres off by a fraction of a metre (a county-wide frame is off by tens).
    k = _east_scale(lat)
    coords = np.asarray(line, dtype=np.float64)
    local = LineString(np.column_stack(((coords[:, 0] - lon) * k, coords[:, 1] - lat)))
    near = nearest_points(local, Point(0.0, 0.0))[0]
    return lon + near.x / k, lat + near.y


def _used_place(match: _Match, street: str | None, community: str | None) -> Place:
    for place in match.places:
        if place.kind == STREET and place.code == street:
            return place
        if place.kind == COMMUNITY and place.code == community:
            return place
    return match.places[0]


def _inside(place: Place, streets: set[str] | None, communities: set[str] | None) -> bool:
    if communities is not None and place.community is not None:
        return place.community in communities
    if streets is not None and place.street is not None:
        return place.street in streets
    return True


def _names(areas: Mapping[str, Place], codes: Iterable[str] | None) -> str:
    return "、".join(sorted(areas[c].name if c in areas else c for c in codes or ()))


def _ambiguous(areas: Mapping[str, Place], name: str, candidates: Sequence[Place]) -> str:
    """The repeated-name reason, e.g. "地名不唯一：张庄村（恼里镇、常村镇）"."""

    def label(code: str | None) -> str:
        return areas[code].name if code is not None and code in areas else (code or "?")

    streets = [label(p.street) for p in candidates]
    communities = [label(p.community) for p in candidates]
    where = streets if len(set(streets)) == len(streets) else communities
    if len(set(where)) != len(where):
        where = [f"{s}{c}" if c not in s else s for s, c in zip(streets, communities, strict=True)]
        if len(set(where)) != len(where):
            return f"地名不唯一：{name}（共 {len(candidates)} 处）"
    return f"地名不唯一：{name}（{'、'.join(where)}）"


def _common_area(areas: Mapping[str, Place], candidates: Sequence[Place],
                 level: str) -> Place | None:
    """The community or street all candidates lie in, if they share one."""
    if len(candidates) < 2:
        return None
    codes = {p.community if level == COMMUNITY else p.street for p in candidates}
    if len(codes) != 1:
        return None
    code = next(iter(codes))
    return areas.get(code) if code is not None else None


def _edits(key: str) -> int:
    """Typos tolerated in a name: one, two from ten characters on."""
    return 1 if len(key) < 10 else 2


def _short_stem(key: str) -> str | None:
    """The proper part of a name with a generic ending, when it is two characters or one."""
    ending = next((e for e in _GENERIC_ENDINGS if key.endswith(e)), "")
    stem = key[: len(key) - len(ending)]
    return stem if ending and 0 < len(stem) <= _WEAK else None


def _pieces(key: str) -> tuple[str, ...]:
    """Parts of a name of which at least one survives any typo tolerated in it."""
    stem = _short_stem(key)
    if stem is not None:
        return (stem,)
    parts = _edits(key) + 1
    cuts = [len(key) * i // parts for i in range(parts + 1)]
    return tuple(key[a:b] for a, b in zip(cuts, cuts[1:], strict=False))


def _best_window(key: str, segment: str) -> tuple[int, int, int] | None:
    """The stretch of `segment` closest to `key` by edits, if within the allowed edits."""
    most = _edits(key)
    short_stem = _short_stem(key)
    best: tuple[int, int, int, int] | None = None  # edits, length difference, start, end
    for width in range(max(len(key) - most, _FUZZY_MIN - 1), len(key) + most + 1):
        for start in range(0, len(segment) - width + 1):
            window = segment[start:start + width]
            edits = Levenshtein.distance(key, window, score_cutoff=most)
            if edits > most or (set(window) - set(key)) & _SPEECH:
                continue
            if short_stem is not None and short_stem not in window:
                continue
            candidate = (edits, abs(width - len(key)), start, start + width)
            if best is None or candidate < best:
                best = candidate
    if best is None:
        return None
    return best[0], best[2], best[3]


def load_gazetteer(session: Session, grid_version: int) -> Gazetteer:
    """Build the gazetteer of a grid version: its areas (not cells) and the gazetteer table."""
    places: list[Place] = []
    district_code: str | None = None
    rows = session.scalars(
        select(Area).where(Area.grid_version == grid_version,
                           Area.level.in_((DISTRICT, STREET, COMMUNITY)))
        .order_by(Area.id))
    for a in rows:
        if a.level == DISTRICT:
            district_code = district_code or a.code
            places.append(Place(a.name, DISTRICT, a.point_lon, a.point_lat, code=a.code))
        elif a.level == STREET:
            places.append(Place(a.name, STREET, a.point_lon, a.point_lat, street=a.code,
                                code=a.code))
        else:
            places.append(Place(a.name, COMMUNITY, a.point_lon, a.point_lat,
                                street=a.parent_code, community=a.code, code=a.code))
    for e in session.scalars(select(GazetteerEntry).order_by(GazetteerEntry.id)):
        if e.kind not in (ROAD, LANDMARK, ALIAS):
            continue
        line = tuple((float(lon), float(lat)) for lon, lat in e.line) if e.line else None
        code = (e.community_code or e.street_code or district_code) if e.kind == ALIAS else None
        places.append(Place(e.name, e.kind, e.lon, e.lat, street=e.street_code,
                            community=e.community_code, code=code, line=line))
    return Gazetteer(places)
