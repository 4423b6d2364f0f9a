"""Grid-side tables: departments, grid versions with their area tree and cells, the dispatch
catalogue, the grid workers' duty roster and the gazetteer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.core.db import Base, JSONType, UTCDateTime, utcnow

# Levels of the area tree, from the top. A cell (网格) is the smallest area.
DISTRICT, STREET, COMMUNITY, CELL = "district", "street", "community", "cell"
LEVELS: tuple[str, ...] = (DISTRICT, STREET, COMMUNITY, CELL)
ALL_AREAS = "*"


class Department(Base):
    """A functional bureau (职能部门) or a territorial street office or town (属地)."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The level above (a community's or village's street office); null for a bureau or a
    # street office itself.
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), index=True)
    phones: Mapped[list[str] | None] = mapped_column(JSONType, default=list)  # for SMS notices


class GridVersion(Base):
    """One import of the grid. Exactly one version is active; tickets keep the version they
    were located with, so older versions are never changed or deleted."""

    __tablename__ = "grid_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    source_crs: Mapped[str] = mapped_column(String(80))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    area_count: Mapped[int] = mapped_column(Integer)
    cell_count: Mapped[int] = mapped_column(Integer)
    # [min lon, min lat, max lon, max lat] in WGS-84.
    bbox: Mapped[list[float]] = mapped_column(JSONType)
    # What the import repaired, and the overlaps and gaps it found (shown to the admin).
    report: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Area(Base):
    """A district, street (街道/乡镇), community (社区/村) or grid cell (网格) of one version.

    Geometry is WGS-84 (CGCS2000 differs by centimetres) as WKB; the locator builds its index
    from these rows once per version and process."""

    __tablename__ = "grid_areas"
    __table_args__ = (
        Index("uq_grid_areas_version_code", "grid_version", "code", unique=True),
        Index("ix_grid_areas_version_level", "grid_version", "level"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_version: Mapped[int] = mapped_column(ForeignKey("grid_versions.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(80))
    level: Mapped[str] = mapped_column(String(12))
    parent_code: Mapped[str | None] = mapped_column(String(40))
    geometry: Mapped[bytes] = mapped_column(LargeBinary)
    # A point inside the area (representative point), the fallback for an address that only
    # names the area.
    point_lon: Mapped[float] = mapped_column(Float)
    point_lat: Mapped[float] = mapped_column(Float)
    area_m2: Mapped[float] = mapped_column(Float)


class CatalogueRule(Base):
    """One line of the dispatch catalogue (派单目录): category × area → lead and co-handlers.

    `area_code` ALL_AREAS ("*") means the whole jurisdiction (a real column value, so that the
    unique index holds on every backend); `lead_code` None means "the territorial office
    (街道/乡镇) of the street where the demand is located"."""

    __tablename__ = "catalogue_rules"
    __table_args__ = (
        Index("uq_catalogue_rules_category_area", "category_code", "area_code", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    area_code: Mapped[str] = mapped_column(String(40))
    lead_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    co_handler_codes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Add the street office of the location as a co-handler (a functional lead with the
    # territorial office helping on site).
    co_territorial: Mapped[bool] = mapped_column(Boolean, default=False)
    # Send the cell's on-duty grid worker on site.
    on_site: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RosterEntry(Base):
    """A grid worker's duty (值班) in a cell: ISO weekdays and a local time window.

    A window whose end is before its start runs over midnight (20:00–08:00)."""

    __tablename__ = "duty_roster"
    __table_args__ = (Index("ix_duty_roster_cell", "cell_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_code: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    weekdays: Mapped[str] = mapped_column(String(7))  # e.g. "12345" or "1234567"
    starts: Mapped[str] = mapped_column(String(5))  # "08:00", Asia/Shanghai
    ends: Mapped[str] = mapped_column(String(5))  # "20:00"; "08:00" after "20:00" = overnight
    note: Mapped[str | None] = mapped_column(String(200))


class GazetteerEntry(Base):
    """A named place for the address geocoder: a road, a landmark, or another name for an area.

    Streets and communities are found by their own names in `grid_areas`; this table adds the
    rest of what citizens say (路名, 小区, 学校, 医院, 市场, 村委会…)."""

    __tablename__ = "gazetteer"
    __table_args__ = (Index("ix_gazetteer_name", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))  # road | landmark | alias
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    street_code: Mapped[str | None] = mapped_column(String(40))
    community_code: Mapped[str | None] = mapped_column(String(40))
    # A road's polyline [[lon, lat], ...] (WGS-84), so that "A路与B路交叉口" finds the crossing.
    line: Mapped[list[list[float]] | None] = mapped_column(JSONType)
    source: Mapped[str | None] = mapped_column(Text)
