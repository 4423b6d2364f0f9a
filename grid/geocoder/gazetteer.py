"""The `Gazetteer`: the place names of one grid version with their lookup structures (every
spelling of a place, the region prefixes to drop), the public `geocode` and `search`, and
`load_gazetteer` from the database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput
from grid.geocoder.places import (
    ALIAS,
    CJK,
    LANDMARK,
    MAX_ADDRESS,
    RANK,
    REGION_PREFIXES,
    ROAD,
    WEAK,
    Entry,
    Geocoded,
    Match,
    Place,
    no_match,
    normalise,
    strip_ending,
)
from grid.geocoder.resolve import Resolver
from grid.geocoder.roads import Roads
from grid.geocoder.typos import Typos
from grid.models import COMMUNITY, DISTRICT, STREET, Area, GazetteerEntry

# Generic endings taken off street and community names to get the short names people use.
_STREET_ENDINGS = ("街道办事处", "办事处", "街道", "镇", "乡")
_COMMUNITY_ENDINGS = ("社区居委会", "居委会", "村委会", "社区", "村")
_DISTRICT_ENDINGS = ("市", "县", "区")
_SEARCH_ORDER = {STREET: 0, COMMUNITY: 1, ROAD: 2, LANDMARK: 3, DISTRICT: 4}


class Gazetteer:
    """Place names of one grid version with their lookup structures, read-only once built."""

    def __init__(self, places: Iterable[Place], *,
                 region_prefixes: Sequence[str] = REGION_PREFIXES) -> None:
        self._places: tuple[Place, ...] = tuple(places)
        areas = [p for p in self._places if p.kind in (DISTRICT, STREET, COMMUNITY)]
        self._areas: dict[str, Place] = {p.code: p for p in areas if p.code}
        districts = [p for p in areas if p.kind == DISTRICT]
        self._resolver = Resolver(self._areas, Roads(self._places, self._areas))

        index: dict[str, list[Entry]] = defaultdict(list)
        for p in self._places:
            if p.kind != ALIAS:
                index[normalise(p.name)].append(Entry(p, None))
        for p in self._places:
            if p.kind == ALIAS:
                target = self._aliased(p, districts)
                if target is not None:
                    index[normalise(p.name)].append(Entry(target, p.name))
        explicit = set(index)
        derived: list[tuple[str, Place]] = []
        for p in areas:
            ending = {STREET: _STREET_ENDINGS, COMMUNITY: _COMMUNITY_ENDINGS,
                      DISTRICT: _DISTRICT_ENDINGS}[p.kind]
            stem = strip_ending(p.name, ending)
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
                    if key.startswith(prefix) and len(key) - len(prefix) > WEAK:
                        derived.append((key[len(prefix):], p))
        for spelling, p in derived:
            key = normalise(spelling)
            if key and key not in explicit:
                index[key].append(Entry(p, spelling))

        self._index: dict[str, tuple[Entry, ...]] = {}
        for key, entries in index.items():
            if len(key) < WEAK:
                continue
            best = min(RANK[e.place.kind] for e in entries)
            seen: set[int] = set()
            kept: list[Entry] = []
            for e in entries:
                if RANK[e.place.kind] == best and id(e.place) not in seen:
                    seen.add(id(e.place))
                    kept.append(e)
            self._index[key] = tuple(kept)
        self._prefixes = frozenset(k[:i] for k in self._index for i in range(1, len(k) + 1))
        self._typos = Typos(self._index)  # the pigeonhole pieces of the names
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

    # ------------------------------------------------------------------ public

    @property
    def places(self) -> tuple[Place, ...]:
        """Every place it was built from, aliases included."""
        return self._places

    def geocode(self, text: str) -> Geocoded:
        """Resolve an address to a point and precision, or to a reasoned no-match."""
        if not isinstance(text, str):
            raise InvalidInput("address: 须为文本", field="address")
        if not text.strip():
            raise InvalidInput("address: 不能为空", field="address")
        if len(text.strip()) > MAX_ADDRESS:
            raise InvalidInput(f"address: 不能超过 {MAX_ADDRESS} 个字符", field="address")
        body = self._strip_region(normalise(text))
        matches = self._scan(body)
        if not CJK.search(body) and not any(m.kind != DISTRICT for m in matches):
            # a road number such as G106 is the one place name without Chinese characters
            if CJK.search(text):
                return no_match("未匹配到地名")
            return no_match("地址中没有中文地名")
        if self._wants_fuzzy(matches):
            matches = self._with_fuzzy(body, matches)
        return self._resolver.resolve(body, matches)

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
            kind = _SEARCH_ORDER[place.kind] if rank < 2 else RANK[place.kind]
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
        if len(ranked) < limit and len(query) > WEAK:
            for key, score, i in process.extract(query, self._name_keys,
                                                 scorer=fuzz.partial_ratio,
                                                 score_cutoff=75, limit=limit * 2):
                if len(key) > WEAK:
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

    def _scan(self, body: str) -> list[Match]:
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
            if j - i > WEAK and not any(taken[i:j]):
                taken[i:j] = [True] * (j - i)
                chosen.append((i, j))
        strong = any(self._index[body[i:j]][0].place.kind != DISTRICT for i, j in chosen)
        for i, j in sorted(s for s in found if s[1] - s[0] <= WEAK):
            if not any(taken[i:j]) and (i == 0 or not strong):
                taken[i:j] = [True] * (j - i)
                chosen.append((i, j))
        return [Match(i, j, body[i:j], self._index[body[i:j]]) for i, j in sorted(chosen)]

    @staticmethod
    def _wants_fuzzy(matches: list[Match]) -> bool:
        """Typos are looked for unless a landmark, the most precise match, was found as is."""
        return not any(m.kind == LANDMARK and m.end - m.start > WEAK for m in matches)

    def _with_fuzzy(self, body: str, matches: list[Match]) -> list[Match]:
        """The exact matches plus typo matches in the rest. A weak spelling yields to a typo
        match covering it ("宏力大到": 宏力大道 misspelt, not 宏力社区's short name), and so does
        an area name that a more precise name extends ("翟桥村村委会" typed "翟桥村村为会")."""
        strong = [m for m in matches if m.end - m.start > WEAK]
        fixed = [m for m in strong if m.kind not in (STREET, COMMUNITY)]
        areas = [m for m in strong if m.kind in (STREET, COMMUNITY)]
        found = self._typos.matches(body, fixed, areas)
        kept = [m for m in matches
                if not any(m.start < f.end and f.start < m.end for f in found)]
        return sorted(kept + found, key=lambda m: m.start)


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
