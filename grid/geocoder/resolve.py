"""Resolution, most precise first: landmark > intersection of two roads > road > community >
street. A street or community named alongside narrows repeated names; a name still repeated is
never settled by picking one: the address falls back to the area all its candidates share, or
to no match, and says why."""

from __future__ import annotations

from collections.abc import Mapping

from grid.geocoder.places import LANDMARK, ROAD, Geocoded, Match, Place, no_match
from grid.geocoder.resolution import (
    Named,
    Resolution,
    ambiguous,
    area_names,
    common_area,
    inside_areas,
)
from grid.geocoder.roads import Roads
from grid.models import COMMUNITY, STREET


class Resolver:
    """The steps from an address's matches to its point, for one gazetteer's areas and roads."""

    def __init__(self, areas: Mapping[str, Place], roads: Roads) -> None:
        self._areas = areas
        self._roads = roads

    def resolve(self, body: str, matches: list[Match]) -> Geocoded:
        """The point of an address from its matches, in steps: the street and the community
        it names, then the most precise place that settles: a landmark, roads (a crossing or
        a point on a road), the community, the street."""
        res = Resolution(body)
        streets = [m for m in matches if m.kind == STREET]
        named = Named()
        self._name_streets(res, named, streets)
        self._name_community(res, named, [m for m in matches if m.kind == COMMUNITY])
        self._find_landmark(res, named, sorted((m for m in matches if m.kind == LANDMARK),
                                               key=lambda m: (m.start - m.end, m.start)))
        found = (self._at_landmark(res, named, streets)
                 or self._on_roads(res, named, [m for m in matches if m.kind == ROAD], streets)
                 or self._at_community(res, named, streets)
                 or self._at_street(res, named, streets))
        return found if found is not None else no_match(*(res.reasons or ["未匹配到地名"]))

    def _name_streets(self, res: Resolution, named: Named, streets: list[Match]) -> None:
        """The streets (街道/乡镇) the address names: one, or several (a reason)."""
        if not streets:
            return
        named.street_ctx = {p.code for m in streets for p in m.places if p.code}
        if len(named.street_ctx) > 1:
            res.reasons.append("地址中出现多个街道/乡镇：" + "、".join(
                sorted({p.name for m in streets for p in m.places})))
        elif len(named.street_ctx) == 1:
            named.street = self._areas.get(next(iter(named.street_ctx)))

    def _name_community(self, res: Resolution, named: Named,
                        communities: list[Match]) -> None:
        """The community (社区/村) the address names, within the streets named; a community
        outside them that is the only one of its name wins over the street."""
        for m in communities:
            inside = [p for p in m.places
                      if named.street_ctx is None or p.street in named.street_ctx]
            if not inside and len(m.places) == 1:
                only = m.places[0]
                where = area_names(self._areas, named.street_ctx)
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

    def _find_landmark(self, res: Resolution, named: Named, landmarks: list[Match]) -> None:
        """The landmark, the longest spelling first: the first one that settles on one place
        (within the areas named, or the only one of its name) wins."""
        for m in landmarks:
            inside = [p for p in m.places
                      if inside_areas(p, named.street_ctx, named.community_ctx)]
            if len(inside) == 1:
                named.landmark, named.landmark_match = inside[0], m
                break
            if not inside and len(m.places) == 1:
                landmark = named.landmark = m.places[0]
                named.landmark_match = m
                area = named.community if named.community is not None else named.street
                where = area.name if area is not None else area_names(self._areas,
                                                                  named.street_ctx)
                res.reasons.append(f"{landmark.name}不在{where}内，以地标为准")
                break
            res.reasons.append(ambiguous(self._areas, m.places[0].name, inside or m.places))
            # only candidates that agree with the named area may decide the fallback area
            named.shared = named.shared or inside
        cands = named.community_cands
        if named.community is None and len(cands) > 1 and (
                named.landmark is None
                or named.landmark.community not in (named.community_ctx or ())):
            res.reasons.append(ambiguous(self._areas, cands[0].name, cands))

    def _at_landmark(self, res: Resolution, named: Named,
                     streets: list[Match]) -> Geocoded | None:
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

    def _on_roads(self, res: Resolution, named: Named, roads: list[Match],
                  streets: list[Match]) -> Geocoded | None:
        """A crossing of two roads, or a point on one road (the nearest to the area named),
        counted for the area named when there is one."""
        # The area the address names, as a point: for a road alone and for several crossings.
        areas = self._areas
        area_place = (named.community or common_area(areas, named.shared, COMMUNITY)
                      or named.street or common_area(areas, named.shared, STREET)
                      or common_area(areas, named.community_cands, STREET))
        road_result = self._roads.settle(res, roads, named.street_ctx, area_place)
        if road_result is None:
            return None
        lon, lat, precision, road_street, road_community = road_result
        if area_place is not None:
            res.use_area(area_place, streets, named.community_match)
            return res.done(lon, lat, precision, area_place.street, area_place.community)
        return res.done(lon, lat, precision, road_street, road_community)

    def _at_community(self, res: Resolution, named: Named,
                      streets: list[Match]) -> Geocoded | None:
        """The centre of the community named, or of the one the candidates share."""
        community = named.community
        if community is not None and named.community_match is not None:
            res.use(named.community_match)
            res.use_area(community, streets, None)
            res.reasons.insert(0, f"匹配社区/村：{community.name}")
            res.reasons.append("仅匹配到社区，使用社区中心点")
            return res.done(community.lon, community.lat, COMMUNITY, community.street,
                            community.code)
        common = common_area(self._areas, named.shared, COMMUNITY)
        if common is None:
            return None
        res.use_area(common, streets, None)
        res.reasons.append(f"使用共同所在社区/村的中心点：{common.name}")
        return res.done(common.lon, common.lat, COMMUNITY, common.street, common.code)

    def _at_street(self, res: Resolution, named: Named,
                   streets: list[Match]) -> Geocoded | None:
        """The centre of the street named, or of the one the candidates share."""
        street = named.street or common_area(self._areas, named.shared, STREET) or common_area(
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
