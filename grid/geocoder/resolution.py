"""One address's resolution as it goes: what the address names (`Named`), the matches used
and the reasons given (`Resolution`), and the area helpers its steps share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from grid.geocoder.places import MATCHED, Geocoded, Match, Place
from grid.models import COMMUNITY, STREET

# A direction and distance from the place named ("东100米"): said, not applied.
OFFSET = re.compile(r"(?:往|向)?[东南西北]{1,2}(?:侧|边|面|方向)?(?:约|大约)?\d+(?:米|公里|m|km)")


@dataclass
class Named:
    """What an address names, as its resolution finds out: the streets (codes) and the one
    street, the community and its candidates, the landmark, and the candidates a repeated
    landmark leaves for the fallback."""

    street_ctx: set[str] | None = None
    street: Place | None = None
    community: Place | None = None
    community_cands: list[Place] = field(default_factory=list)
    community_match: Match | None = None
    community_ctx: set[str] | None = None
    landmark: Place | None = None
    landmark_match: Match | None = None
    shared: list[Place] = field(default_factory=list)


class Resolution:
    """The matches used and the reasons given while one address is resolved."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.used: list[Match] = []
        self.reasons: list[str] = []

    def use(self, match: Match) -> None:
        if match not in self.used:
            self.used.append(match)

    def unuse(self, match: Match) -> None:
        if match in self.used:
            self.used.remove(match)

    def use_area(self, area: Place, streets: list[Match], community: Match | None) -> None:
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
            place = used_place(m, street, community)
            if place.name not in names:
                names.append(place.name)
            if m.fuzzy:
                notes.append(f"模糊匹配：{m.typed} → {place.name}")
            elif m.entries[0].alias is not None:
                notes.append(f"别名：{m.entries[0].alias} → {place.name}")
        offset = OFFSET.search(self.body)
        if offset:
            notes.append(f"未计入方位偏移：{offset.group(0)}")
        reasons = tuple(dict.fromkeys([*self.reasons, *notes]))
        return Geocoded(MATCHED, lon, lat, precision, street, community, tuple(names),
                        any(m.fuzzy for m in used), reasons)


def used_place(match: Match, street: str | None, community: str | None) -> Place:
    for place in match.places:
        if place.kind == STREET and place.code == street:
            return place
        if place.kind == COMMUNITY and place.code == community:
            return place
    return match.places[0]


def inside_areas(place: Place, streets: set[str] | None, communities: set[str] | None) -> bool:
    if communities is not None and place.community is not None:
        return place.community in communities
    if streets is not None and place.street is not None:
        return place.street in streets
    return True


def area_names(areas: Mapping[str, Place], codes: Iterable[str] | None) -> str:
    return "、".join(sorted(areas[c].name if c in areas else c for c in codes or ()))


def ambiguous(areas: Mapping[str, Place], name: str, candidates: Sequence[Place]) -> str:
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


def common_area(areas: Mapping[str, Place], candidates: Sequence[Place],
                 level: str) -> Place | None:
    """The community or street all candidates lie in, if they share one."""
    if len(candidates) < 2:
        return None
    codes = {p.community if level == COMMUNITY else p.street for p in candidates}
    if len(codes) != 1:
        return None
    code = next(iter(codes))
    return areas.get(code) if code is not None else None
