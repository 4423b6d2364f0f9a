"""The grid side of a history import (`dispatch.intake.history_import.HistoryGrid`): many points
located at once by the index's vectorised `locate_many`, the misses (outside every cell, an
address instead) one by one as at intake, routing by the catalogue, the departments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.ports import DepartmentRef, Location, Routing
from grid.catalogue import Catalogue
from grid.coords import to_wgs84
from grid.locator import GridCache
from grid.models import Department
from grid.service import GridRouting

if TYPE_CHECKING:
    from grid.geocoder import Gazetteer


class HistoryGridRouting(GridRouting):
    """`GridRouting` with bulk location; routes for history carry no on-duty grid worker (who
    is on duty today says nothing about who went on site then)."""

    def __init__(self, session: Session, now: datetime, cache: GridCache | None = None) -> None:
        super().__init__(session, now, cache)
        # Read once for the whole file (one import, one transaction).
        self._catalogue: Catalogue | None = None
        self._gazetteer_once: Gazetteer | None = None
        self._rule_areas: frozenset[str] | None = None
        self._routes: dict[tuple[str | None, ...], Routing] = {}

    def _gazetteer(self) -> Gazetteer:
        if self._gazetteer_once is None:
            self._gazetteer_once = super()._gazetteer()
        return self._gazetteer_once

    def catalogue(self) -> Catalogue:
        """The dispatch catalogue, read once."""
        if self._catalogue is None:
            self._catalogue = super().catalogue()
        return self._catalogue

    def locate_points(self, lons: Sequence[float], lats: Sequence[float], crs: Sequence[str],
                      addresses: Sequence[str | None]) -> list[Location]:
        """The cells and areas of many points (WGS84/CGCS2000/GCJ02/BD09 each) at once."""
        x = np.asarray(lons, dtype=float)
        y = np.asarray(lats, dtype=float)
        kinds = np.asarray([c.upper() for c in crs])
        for kind in ("GCJ02", "BD09"):
            sel = kinds == kind
            if sel.any():
                x[sel], y[sel] = to_wgs84(x[sel], y[sel], kind)
        index = self.index
        if index is None:
            return [self.locate(float(a), float(b), "WGS84", addr)
                    for a, b, addr in zip(x, y, addresses, strict=True)]
        cells = index.locate_many(x, y)
        out: list[Location] = []
        chains: dict[int, tuple[str | None, str | None, str | None]] = {}
        for i, pos in enumerate(cells.tolist()):
            if pos < 0:  # outside every cell: nearest cell, swapped coordinates or the address
                out.append(self.locate(float(x[i]), float(y[i]), "WGS84", addresses[i]))
                continue
            code = index.cell_codes[pos]
            chain = chains.get(pos)
            if chain is None:
                chain = chains[pos] = index.chain(code)
            community, street, district = chain
            out.append(Location(float(x[i]), float(y[i]), addresses[i], code, community, street,
                                index.version, (), district, "point"))
        return out

    def route(self, category: str | None, location: Location) -> Routing:
        """Lead and co-handlers from the catalogue, without today's on-duty grid worker;
        worked out once per category, street and the areas some rule names."""
        catalogue = self.catalogue()
        if self._rule_areas is None:
            self._rule_areas = catalogue.rule_areas()
        areas = [a for a in location.areas() if a in self._rule_areas]
        key = (category, location.street, *areas)
        routing = self._routes.get(key)
        if routing is None:
            index = self.index
            names = index.area_names if index else {}
            decision = catalogue.resolve(category, areas, location.street, names)
            routing = self._routes[key] = Routing(
                decision.lead, decision.co_handlers, tuple(decision.reasons), None,
                decision.on_site, decision.rule)
        return routing

    def departments(self) -> Iterable[DepartmentRef]:
        """Every department."""
        return [DepartmentRef(d.code, d.name, d.kind, d.street_code, d.active)
                for d in self.session.scalars(select(Department))]
