"""Grid versions as the admin switches them: what activating a version would change (cells
added, removed, renamed, moved to another community, reshaped; the open tickets, duties and
catalogue rules left in areas that disappear), and the activation itself, recorded.

Cells are matched by code: a code in both versions is the same cell (renamed when its name
differs, reshaped when its outline does); a cell whose code disappears is removed even if a
new code covers the same ground (the locator, the roster and the catalogue know cells by code).
An outline is the same when the two shapes are equal within 1e-7° (about a centimetre) once
normalised, so a re-export that only reorders vertices is not a change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dispatch.core.audit import record_change
from dispatch.core.errors import NotFound
from dispatch.core.models import Category, Ticket, User
from dispatch.core.vocab import OPEN_STATES
from grid.models import ALL_AREAS, CELL, Area, CatalogueRule, GridVersion, RosterEntry

LISTED = 500  # items per list in the answer (the counts are always whole)
SAME_OUTLINE = 1e-7  # degrees


@dataclass(frozen=True)
class _Cell:
    code: str
    name: str
    parent: str | None
    geometry: bytes
    area_m2: float


def _cells(session: Session, version: int) -> dict[str, _Cell]:
    rows = session.execute(select(Area.code, Area.name, Area.parent_code, Area.geometry,
                                  Area.area_m2)
                           .where(Area.grid_version == version, Area.level == CELL))
    return {r.code: _Cell(r.code, r.name, r.parent_code, bytes(r.geometry), r.area_m2)
            for r in rows}


def _names(session: Session, version: int | None) -> dict[str, str]:
    if version is None:
        return {}
    return dict(session.execute(select(Area.code, Area.name)
                                .where(Area.grid_version == version)).tuples().all())


def _reshaped(old: list[_Cell], new: list[_Cell]) -> list[bool]:
    """Whether each pair's outline differs (the same bytes are the same outline)."""
    out = [a.geometry != b.geometry for a, b in zip(old, new, strict=True)]
    differ = [i for i, d in enumerate(out) if d]
    if differ:
        a = shapely.normalize(shapely.from_wkb([old[i].geometry for i in differ]))
        b = shapely.normalize(shapely.from_wkb([new[i].geometry for i in differ]))
        same = shapely.equals_exact(a, b, tolerance=SAME_OUTLINE)
        for i, s in zip(differ, same, strict=True):
            out[i] = not bool(s)
    return out


def get_version(session: Session, version_id: int) -> GridVersion:
    """A grid version, or NotFound in Chinese."""
    version = session.get(GridVersion, version_id)
    if version is None:
        raise NotFound(f"没有第 {version_id} 版网格")
    return version


def named_report(session: Session, version: GridVersion) -> dict[str, Any]:
    """A version's import report with the names of the areas it cites by code (overlapping
    pairs, repaired shapes), for the admin to read."""
    report = dict(version.report or {})
    overlaps = [dict(o) for o in report.get("overlaps", [])]
    repaired = [dict(r) for r in report.get("repaired", [])]
    codes = {o.get(k) for o in overlaps for k in ("a", "b")} | {r.get("code") for r in repaired}
    wanted = sorted(c for c in codes if isinstance(c, str))
    names = dict(session.execute(select(Area.code, Area.name).where(
        Area.grid_version == version.id, Area.code.in_(wanted))).tuples().all()) if wanted else {}
    for o in overlaps:
        o["a_name"], o["b_name"] = names.get(o.get("a", "")), names.get(o.get("b", ""))
    for r in repaired:
        r["name"] = names.get(r.get("code", ""))
    if report:
        report["overlaps"], report["repaired"] = overlaps, repaired
    return report


def active_version_id(session: Session) -> int | None:
    """The active version's id (None before the first import)."""
    return session.scalar(select(GridVersion.id).where(GridVersion.active.is_(True))
                          .order_by(GridVersion.id.desc()).limit(1))


def version_diff(session: Session, version_id: int, against: int | None = None) -> dict[str, Any]:
    """What activating `version_id` would change, compared with `against` (default: the
    active version): cells added, removed, renamed, moved and reshaped, and the open tickets,
    duties and catalogue rules in cells or areas that disappear (counts, and up to LISTED of
    each with names)."""
    target = get_version(session, version_id)
    base_id = against if against is not None else active_version_id(session)
    if base_id is not None:
        get_version(session, base_id)
    new = _cells(session, target.id)
    old = _cells(session, base_id) if base_id is not None else {}
    new_names, old_names = _names(session, target.id), _names(session, base_id)

    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    kept = sorted(set(new) & set(old))
    shape_changed = _reshaped([old[c] for c in kept], [new[c] for c in kept])
    renamed = [c for c in kept if old[c].name != new[c].name]
    moved = [c for c in kept if old[c].parent != new[c].parent]
    reshaped = [c for c, changed in zip(kept, shape_changed, strict=True) if changed]

    def parent_name(names: dict[str, str], code: str | None) -> str | None:
        return names.get(code, code) if code else None

    def listed(codes: list[str], view: Any) -> list[dict[str, Any]]:
        return [view(c) for c in codes[:LISTED]]

    gone_areas = sorted(set(old_names) - set(new_names))
    tickets = _open_tickets_in(session, set(new), old_names)
    duties = _duties_in(session, removed, old_names)
    rules = _rules_in(session, gone_areas, old_names)
    return {
        "version": target.id, "against": base_id,
        "counts": {"added": len(added), "removed": len(removed), "renamed": len(renamed),
                   "moved": len(moved), "reshaped": len(reshaped),
                   "unchanged": len(kept) - len(set(renamed) | set(moved) | set(reshaped)),
                   "tickets": tickets["count"], "duties": duties["count"],
                   "rules": rules["count"]},
        "added": listed(added, lambda c: {
            "code": c, "name": new[c].name,
            "community_name": parent_name(new_names, new[c].parent)}),
        "removed": listed(removed, lambda c: {
            "code": c, "name": old[c].name,
            "community_name": parent_name(old_names, old[c].parent)}),
        "renamed": listed(renamed, lambda c: {
            "code": c, "old_name": old[c].name, "name": new[c].name}),
        "moved": listed(moved, lambda c: {
            "code": c, "name": new[c].name,
            "old_community_name": parent_name(old_names, old[c].parent),
            "community_name": parent_name(new_names, new[c].parent)}),
        "reshaped": listed(reshaped, lambda c: {
            "code": c, "name": new[c].name, "old_area_m2": round(old[c].area_m2),
            "area_m2": round(new[c].area_m2)}),
        "tickets": tickets["items"], "duties": duties["items"], "rules": rules["items"],
        "listed": LISTED,
    }


def _open_tickets_in(session: Session, kept: set[str], names: dict[str, str]) -> dict[str, Any]:
    """Open tickets located in a cell the new version does not have (whatever version they
    were located with)."""
    open_states = sorted(str(s) for s in OPEN_STATES)
    per_cell = session.execute(select(Ticket.cell_code, func.count())
                               .where(Ticket.status.in_(open_states),
                                      Ticket.cell_code.is_not(None))
                               .group_by(Ticket.cell_code)).tuples().all()
    gone = sorted(code for code, _ in per_cell if code is not None and code not in kept)
    count = sum(n for code, n in per_cell if code in set(gone))
    if not gone:
        return {"count": 0, "items": []}
    rows = session.execute(select(Ticket.number, Ticket.status, Ticket.cell_code,
                                  Ticket.grid_version, Ticket.created_at)
                           .where(Ticket.status.in_(open_states), Ticket.cell_code.in_(gone))
                           .order_by(Ticket.created_at, Ticket.id).limit(LISTED)).all()
    # A cell an older version had: its name from the newest version that has it.
    older = dict(session.execute(select(Area.code, Area.name)
                                 .where(Area.code.in_([c for c in gone if c not in names]))
                                 .order_by(Area.grid_version)).tuples().all())
    return {"count": count, "items": [
        {"number": r.number, "status": r.status, "cell": r.cell_code,
         "cell_name": names.get(r.cell_code or "") or older.get(r.cell_code or "", r.cell_code),
         "grid_version": r.grid_version, "created_at": r.created_at.isoformat()}
        for r in rows]}


def _duties_in(session: Session, removed: list[str], names: dict[str, str]) -> dict[str, Any]:
    """Duties on the roster in cells that disappear (they would point at no cell)."""
    if not removed:
        return {"count": 0, "items": []}
    where = RosterEntry.cell_code.in_(removed)
    count = session.scalar(select(func.count()).select_from(RosterEntry).where(where)) or 0
    rows = session.execute(select(RosterEntry, User.display_name)
                           .join(User, User.id == RosterEntry.user_id).where(where)
                           .order_by(RosterEntry.cell_code, RosterEntry.id).limit(LISTED)).all()
    return {"count": count, "items": [
        {"id": e.id, "cell": e.cell_code, "cell_name": names.get(e.cell_code, e.cell_code),
         "display_name": name, "weekdays": e.weekdays, "starts": e.starts, "ends": e.ends}
        for e, name in rows]}


def _rules_in(session: Session, gone: list[str], names: dict[str, str]) -> dict[str, Any]:
    """Catalogue rules for areas (of any level) that disappear (they would never match)."""
    areas = [a for a in gone if a != ALL_AREAS]
    if not areas:
        return {"count": 0, "items": []}
    rows = session.execute(select(CatalogueRule, Category.name)
                           .outerjoin(Category, Category.code == CatalogueRule.category_code)
                           .where(CatalogueRule.area_code.in_(areas))
                           .order_by(CatalogueRule.id)).all()
    return {"count": len(rows), "items": [
        {"id": r.id, "category": r.category_code, "category_name": category or r.category_code,
         "area": r.area_code, "area_name": names.get(r.area_code, r.area_code),
         "active": r.active}
        for r, category in rows[:LISTED]]}


def activate_version(session: Session, version_id: int, actor_id: int | None) -> GridVersion:
    """Make a version the only active one (e.g. roll back an import), recorded as the actor's
    change (before → after: the active version's id); activating the active one changes
    nothing."""
    target = get_version(session, version_id)
    previous = active_version_id(session)
    session.execute(update(GridVersion).where(GridVersion.active.is_(True),
                                              GridVersion.id != target.id)
                    .values(active=False))
    target.active = True
    session.flush()
    record_change(session, actor_id, "grid_version", target.id, "activate",
                  {"active_version": previous}, {"active_version": target.id})
    return target
