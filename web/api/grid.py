"""Grid routes under /api/v1: locate preview, map GeoJSON, grid versions and imports, the duty
roster and the locator and repeat settings (admin). The dispatch catalogue is in admin_setup."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from flask import current_app, request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import UnsupportedMediaType

from dispatch.core.commands import Code, Id
from dispatch.core.errors import InvalidInput, NotFound
from dispatch.core.models import User
from dispatch.core.vocab import Role
from dispatch.intake.phones import normalize_phone
from dispatch.intake.repeats import RepeatRules, get_repeat_rules, set_repeat_rules
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.lifecycle import Actor
from grid import duties
from grid import roster as roster_of
from grid.importer import ImportOptions, import_grid
from grid.importer import versions as versions_of
from grid.locator import LocatorSettings, get_locator_settings, set_locator_settings
from grid.models import CELL, COMMUNITY, STREET, Department, GridVersion
from grid.service import GridRouting, preview
from web.api.base import STAFF, ApiBlueprint, commit, import_answer, uploaded_sheet
from web.extensions import db
from web.services import services

bp = ApiBlueprint("grid", __name__)

ADMIN = (Role.ADMIN,)
GRID_READERS = (Role.ADMIN, Role.DISPATCHER, Role.LEADER, Role.SUPERVISOR, Role.OPERATOR)
UPLOAD_TYPES = {"application/octet-stream", "application/zip", "application/geo+json",
                "application/geopackage+sqlite3", "application/x-zip-compressed"}
UPLOAD_SUFFIXES = {".geojson", ".json", ".gpkg", ".zip", ".shp"}


class Query(BaseModel):
    """Query strings arrive as text: numbers are parsed (lax), unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LocateQuery(Query):
    lon: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    crs: Literal["WGS84", "CGCS2000", "GCJ02", "BD09"] = "WGS84"
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    category: Code | None = None
    phone: Annotated[str, StringConstraints(max_length=30)] | None = None
    openid: Annotated[str, StringConstraints(max_length=64)] | None = None


class FeaturesQuery(Query):
    bbox: str | None = Field(None, description="min lon,min lat,max lon,max lat (WGS-84)")
    zoom: int = Field(14, ge=0, le=22)
    level: Literal["street", "community", "cell"] | None = Field(
        None, description="default: streets below zoom 12, communities to 13, cells from 14")
    version: Id | None = Field(None, description="default: the active version")


class RosterQuery(Query):
    cell: Code | None = None
    username: Code | None = None
    area: Code | None = Field(None, description="a street, community or cell: its cells' duties")
    worker: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=60)] | None = Field(
        None, description="a grid worker's username or part of the name")
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(100, ge=1, le=500)


class RosterWeekQuery(Query):
    by: Literal["cell", "worker"] = Field("cell", description="a row per cell or per worker")
    area: Code | None = Field(None, description="a street, community or cell of the grid")
    worker: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=60)] | None = None
    week: date | None = Field(None, description="any day of the week (dates the columns)")
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(50, ge=1, le=200)


class DiffQuery(Query):
    against: Id | None = Field(None, description="the version to compare with (default: the "
                                                 "active one)")


def _grid() -> GridRouting:
    return GridRouting(db.session, services().clock.now(), services().grid_cache)


# ---------------------------------------------------------------- locate and map


@bp.endpoint("/grid/locate", "GET",
          "Where a point or address is: cell, community, street, flags, lead department, "
          "co-handlers, on-duty grid worker, candidate repeats (the intake preview)",
          query=LocateQuery, roles=STAFF)
def locate(actor: Actor, query: LocateQuery) -> dict[str, Any]:
    if (query.lon is None) != (query.lat is None):
        missing = "lat" if query.lat is None else "lon"
        raise InvalidInput(f"{missing}: lon 和 lat 须同时提供或都不提供", field=missing)
    if query.lon is None and query.address is None:
        raise InvalidInput("address: 须提供 lon 和 lat，或提供地址", field="address")
    if query.category is not None:
        from dispatch.intake.pipeline import check_category

        check_category(db.session, query.category)
    phone = normalize_phone(query.phone) if query.phone else None
    grid = _grid()
    result = preview(db.session, grid.now, lon=query.lon, lat=query.lat, crs=query.crs,
                     address=query.address, category=query.category, phone=phone,
                     openid=query.openid, actor=actor, cache=grid.cache)
    loc, routing = result.location, result.routing
    index = grid.index
    names = {}
    if index is not None:
        names = {level: index.areas[code].name
                 for level, code in (("cell", loc.cell), ("community", loc.community),
                                     ("street", loc.street), ("district", loc.district))
                 if code in index.areas}
    worker = None
    if routing.grid_worker:
        worker = db.session.scalar(select(User.display_name)
                                   .where(User.username == routing.grid_worker))
    directory = dict(db.session.execute(select(Department.code, Department.name)).all())
    commit()
    return {
        "location": {"lon": loc.lon, "lat": loc.lat, "address": query.address,
                     "cell": loc.cell, "community": loc.community, "street": loc.street,
                     "district": loc.district, "grid_version": loc.grid_version,
                     "precision": loc.precision, "flags": list(loc.flags),
                     "reasons": list(loc.reasons), "names": names},
        "routing": {**routing.as_dict(), "lead_name": directory.get(routing.lead or ""),
                    "co_handler_names": [directory.get(c, c) for c in routing.co_handlers],
                    "grid_worker_name": worker},
        "repeat_candidates": [r.as_dict() for r in result.repeats],
    }


def _bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if raw is None:
        return None
    try:
        parts = [float(v) for v in raw.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4 or not all(abs(v) <= 180 for v in parts):
        raise InvalidInput("bbox: 须为四个数“最小经度,最小纬度,最大经度,最大纬度”", field="bbox")
    minx, miny, maxx, maxy = parts
    if minx > maxx or miny > maxy or abs(miny) > 90 or abs(maxy) > 90:
        raise InvalidInput("bbox: 最小值不能大于最大值，纬度须在 ±90 之内", field="bbox")
    return minx, miny, maxx, maxy


@bp.endpoint("/grid/cells.geojson", "GET",
          "Cells or areas as GeoJSON, simplified for the map's zoom level", query=FeaturesQuery,
          roles=STAFF)
def cells_geojson(actor: Actor, query: FeaturesQuery) -> Any:
    bbox = _bbox(query.bbox)
    grid = _grid()
    version = query.version or grid.version
    if version is None:
        raise NotFound("尚未导入任何网格")
    if db.session.get(GridVersion, version) is None:
        raise NotFound(f"没有第 {version} 版网格")
    index = grid.cache.index(db.session, version)
    level = query.level or (STREET if query.zoom < 12 else
                            COMMUNITY if query.zoom < 14 else CELL)
    features, truncated = index.features(level, bbox, query.zoom)
    commit()
    body = {"type": "FeatureCollection", "features": features,
            "properties": {"grid_version": version, "level": level, "zoom": query.zoom,
                           "truncated": truncated}}
    response = current_app.response_class(
        current_app.json.dumps(body), mimetype="application/geo+json")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response, 200


@bp.endpoint("/grid/cells/<code>/workers", "GET",
          "The grid workers on a cell's roster by name, those on duty now first (the dispatcher's "
          "picker)", roles=GRID_READERS)
def cell_workers(actor: Actor, code: str) -> dict[str, Any]:
    items = duties.cell_workers(db.session, code, services().clock.now())
    commit()
    return {"cell": code, "items": items}


@bp.endpoint("/grid/areas", "GET", "Streets and communities of the active grid (names and tree)",
          roles=STAFF)
def areas(actor: Actor) -> dict[str, Any]:
    index = _grid().index
    commit()
    if index is None:
        return {"grid_version": None, "items": []}
    return {"grid_version": index.version,
            "items": [{"code": a.code, "name": a.name, "level": a.level, "parent": a.parent,
                       "lon": a.lon, "lat": a.lat}
                      for a in index.areas.values() if a.level != CELL]}


# ---------------------------------------------------------------- versions and imports


def _version_view(v: GridVersion, importer: str | None = None) -> dict[str, Any]:
    report = v.report or {}
    return {"id": v.id, "source": v.source, "source_crs": v.source_crs,
            "imported_at": v.imported_at.isoformat(), "active": v.active,
            "area_count": v.area_count, "cell_count": v.cell_count, "bbox": v.bbox,
            "imported_by": importer, "overlap_count": report.get("overlap_count"),
            "gap_count": report.get("gap_count"), "repaired_count": len(report.get("repaired", []))
            if report else None}


@bp.endpoint("/grid/versions", "GET", "Grid versions, newest first", roles=GRID_READERS)
def versions(actor: Actor) -> dict[str, Any]:
    rows = db.session.execute(select(GridVersion, User.display_name)
                              .outerjoin(User, User.id == GridVersion.imported_by_id)
                              .order_by(GridVersion.id.desc())).all()
    commit()
    return {"items": [_version_view(v, name) for v, name in rows]}


@bp.endpoint("/grid/versions/<int:version_id>", "GET", "One grid version with its import report",
          roles=GRID_READERS)
def version(actor: Actor, version_id: int) -> dict[str, Any]:
    v = versions_of.get_version(db.session, version_id)
    importer = db.session.get(User, v.imported_by_id) if v.imported_by_id else None
    report = versions_of.named_report(db.session, v)
    commit()
    return {**_version_view(v, importer.display_name if importer else None), "report": report}


@bp.endpoint("/admin/grid/versions/<int:version_id>/diff", "GET",
          "What activating a version would change: cells added, removed, renamed, moved, "
          "reshaped; open tickets, duties and catalogue rules in areas that disappear",
          query=DiffQuery, roles=ADMIN)
def version_diff(actor: Actor, version_id: int, query: DiffQuery) -> dict[str, Any]:
    diff = versions_of.version_diff(db.session, version_id, query.against)
    commit()
    return diff


class ImportQuery(Query):
    filename: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="the file's name; its suffix says the format (.geojson .gpkg .zip .shp)")
    crs: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        None, description="declare the source CRS (EPSG:xxxx, GCJ02, BD09)")
    layer: Annotated[str, StringConstraints(max_length=80)] | None = None
    activate: bool = True
    code_field: Code = "code"
    name_field: Code = "name"
    level_field: Code = "level"
    parent_field: Code = "parent"


@bp.endpoint("/admin/grid/imports", "POST",
          "Import a grid file sent as the raw request body (GeoJSON, GeoPackage, zipped "
          "Shapefile); a new grid version", query=ImportQuery, roles=ADMIN, status=201)
def import_file(actor: Actor, query: ImportQuery) -> dict[str, Any]:
    # A raw body with a non-form content type: no cross-site form can send it (CSRF).
    if request.mimetype not in UPLOAD_TYPES:
        raise UnsupportedMediaType(
            "请将文件作为请求内容发送，Content-Type 为 application/octet-stream")
    suffix = Path(query.filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise InvalidInput("filename: 扩展名须为以下之一："
                           + "、".join(sorted(UPLOAD_SUFFIXES)), field="filename")
    if suffix == ".shp":
        raise InvalidInput("filename: Shapefile 请打包为 .zip（含 .shp、.shx、.dbf "
                           "和 .prj）上传", field="filename")
    # Grid files are large: this endpoint alone lifts the 64 KiB body limit.
    request.max_content_length = current_app.config["GRID_UPLOAD_MAX_BYTES"]
    data = request.get_data(cache=False)
    if not data:
        raise InvalidInput("file: 请求内容为空，请上传网格文件", field="file")
    options = ImportOptions(code_field=query.code_field, name_field=query.name_field,
                            level_field=query.level_field, parent_field=query.parent_field,
                            layer=query.layer, source_crs=query.crs, activate=query.activate)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("upload" + suffix)
        path.write_bytes(data)
        report = import_grid(db.session, path, options, actor_id=actor.id,
                             now=services().clock.now(), source_name=query.filename)
    commit()
    return report.to_dict()


@bp.endpoint("/admin/grid/versions/<int:version_id>/activate", "POST",
          "Make a grid version the active one (e.g. roll back an import)", roles=ADMIN)
def activate(actor: Actor, version_id: int) -> dict[str, Any]:
    target = versions_of.activate_version(db.session, version_id, actor.id)
    commit()
    return _version_view(target)


# ---------------------------------------------------------------- roster


def _index() -> Any:
    return _grid().index


@bp.endpoint("/admin/roster", "GET",
          "Grid workers' duty roster with names (filter by cell, username, area or worker), a "
          "page at a time", query=RosterQuery, roles=GRID_READERS)
def roster(actor: Actor, query: RosterQuery) -> dict[str, Any]:
    page = roster_of.roster_page(db.session, _index(), cell=query.cell, username=query.username,
                                 area=query.area, worker=query.worker, page=query.page,
                                 per_page=query.per_page)
    commit()
    return page


@bp.endpoint("/admin/roster/week", "GET",
          "The roster's week view: per cell (or per grid worker) the duties of each weekday",
          query=RosterWeekQuery, roles=GRID_READERS)
def roster_week(actor: Actor, query: RosterWeekQuery) -> dict[str, Any]:
    week = query.week or services().clock.now().astimezone(LOCAL_TZ).date()
    view = roster_of.roster_week(db.session, _index(), by=query.by, area=query.area,
                                 worker=query.worker, week=week, page=query.page,
                                 per_page=query.per_page)
    commit()
    return view


@bp.endpoint("/admin/roster", "POST",
          "Add a duty for a grid worker in a cell (the cell by code or name, the worker by "
          "username or name, the days as digits or words)", body=roster_of.DutyIn,
          roles=ADMIN, status=201)
def add_duty(actor: Actor, body: roster_of.DutyIn) -> dict[str, Any]:
    index = _index()
    entry = roster_of.add_duty(db.session, body.model_dump(), index, actor.id)
    user = db.session.get(User, entry.user_id)
    commit()
    return duties.roster_view(entry, user.username if user else "",
                              user.display_name if user else None, index)


@bp.endpoint("/admin/roster/<int:entry_id>", "DELETE", "Remove a duty", roles=ADMIN)
def remove_duty(actor: Actor, entry_id: int) -> dict[str, Any]:
    duties.delete_roster_entry(db.session, entry_id, actor.id)
    commit()
    return {"deleted": entry_id}


@bp.endpoint("/admin/roster/import", "POST",
          "Import duties from a spreadsheet (.xlsx or .csv, multipart field `file`; headings "
          "网格, 网格员, 星期, 开始, 结束, 备注); ?dry_run=true (the default) only checks: the "
          "row-by-row report; all or nothing", roles=ADMIN, errors=(415, 422))
def import_roster(actor: Actor) -> Any:
    data, filename, dry_run = uploaded_sheet()
    report = roster_of.import_roster(db.session, data, filename, _index(), actor_id=actor.id,
                                     dry_run=dry_run)
    if dry_run or not report.committed:
        db.session.rollback()
    else:
        commit()
    return import_answer(report, dry_run)


# ---------------------------------------------------------------- settings


def _setting_routes(name: str, path: str, what: str, model: type[BaseModel],
                    read: Callable[[Session], BaseModel],
                    write: Callable[[Session, dict, int | None], BaseModel]) -> None:
    """GET (readers) and PUT (admins) for one editable setting."""
    def show(actor: Actor) -> dict[str, Any]:
        return read(db.session).model_dump(mode="json")

    def replace(actor: Actor, body: BaseModel) -> dict[str, Any]:
        value = write(db.session, body.model_dump(mode="json"), actor.id)
        commit()
        return value.model_dump(mode="json")

    show.__name__, replace.__name__ = f"read_{name}", f"write_{name}"
    bp.endpoint(path, "GET", f"The {what} in force", roles=GRID_READERS)(show)
    bp.endpoint(path, "PUT", f"Replace the {what} (fields left out take the shipped defaults)",
             body=model, roles=ADMIN)(replace)


_setting_routes("locator_settings", "/admin/locator-settings",
                "locator's boundary and nearest-cell distances", LocatorSettings,
                get_locator_settings, set_locator_settings)
_setting_routes("repeat_rules", "/admin/repeat-rules",
                "candidate-repeat rule's distance and windows", RepeatRules,
                get_repeat_rules, set_repeat_rules)
