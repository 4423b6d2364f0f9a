"""The grid workers' duty roster (值班表): a worker on duty in a cell on some weekdays between two
times; who is on duty in a cell now (the routing names them), which cells a worker covers (their
scope), and the admin's additions and removals, each recorded (dispatch.core.audit). The import
of a whole sheet and the week view are in `grid.roster`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import StringConstraints
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dispatch.core.audit import record_change
from dispatch.core.commands import Code, Strict, parse
from dispatch.core.db import affected_rows
from dispatch.core.errors import InvalidInput, NotFound
from dispatch.core.memo import memo
from dispatch.core.models import User
from dispatch.core.vocab import Role
from dispatch.tickets.calendar import LOCAL_TZ
from grid.catalogue import HHMM, Note
from grid.locator import GridIndex
from grid.models import RosterEntry


class RosterIn(Strict):
    cell: Code
    username: Code
    weekdays: Annotated[str, StringConstraints(pattern=r"^[1-7]{1,7}$")] = "1234567"
    starts: HHMM = "08:00"
    ends: HHMM = "20:00"
    note: Note | None = None


@dataclass(frozen=True)
class OnDuty:
    username: str | None
    display_name: str | None
    reason: str


WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def weekdays_text(weekdays: str) -> str:
    """ISO weekdays as a person reads them: "1234567" → 每天, "12345" → 周一至周五,
    "135" → 周一、周三、周五."""
    days = sorted({int(d) for d in weekdays if d in "1234567"})
    if len(days) == 7:
        return "每天"
    runs: list[list[int]] = []
    for d in days:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{WEEKDAY_NAMES[run[0] - 1]}至{WEEKDAY_NAMES[run[-1] - 1]}")
        else:
            parts.extend(WEEKDAY_NAMES[d - 1] for d in run)
    return "、".join(parts)


def roster_view(entry: RosterEntry, username: str, display_name: str | None = None,
                index: GridIndex | None = None) -> dict[str, Any]:
    """A roster entry as the API shows it, with the names a person reads (the worker's, the
    cell's and the areas' above it, from the active grid's index)."""
    area = index.areas.get(entry.cell_code) if index is not None else None
    community = index.areas.get(area.parent or "") if index is not None and area else None
    street = index.areas.get(community.parent or "") if index is not None and community \
        else None
    return {"id": entry.id, "cell": entry.cell_code, "username": username,
            "weekdays": entry.weekdays, "starts": entry.starts, "ends": entry.ends,
            "note": entry.note, "display_name": display_name,
            "cell_name": area.name if area else None,
            "community_name": community.name if community else None,
            "street_name": street.name if street else None,
            "weekdays_text": weekdays_text(entry.weekdays),
            "overnight": entry.ends < entry.starts}


def check_duty(data: dict[str, Any], index: GridIndex | None,
               users: dict[str, User | None]) -> dict[str, Any]:
    """A duty checked against the grid and the grid workers (`users` by username): the row to
    insert. The one check of a duty, for the API, the page and the spreadsheet import."""
    cmd = parse(RosterIn, data)
    if index is None or cmd.cell not in index.areas or index.areas[cmd.cell].level != "cell":
        raise InvalidInput(f"cell: 当前网格中没有网格“{cmd.cell}”", field="cell")
    if len(set(cmd.weekdays)) != len(cmd.weekdays):
        raise InvalidInput("weekdays: 每天只能出现一次（ISO：1 = 周一 … 7 = 周日）",
                           field="weekdays")
    if cmd.starts == cmd.ends:
        raise InvalidInput("ends: 结束时间不能与开始时间相同", field="ends")
    user = users.get(cmd.username)
    if user is None or user.role != Role.GRID_WORKER or not user.active:
        raise InvalidInput(f"username: 没有在岗的网格员“{cmd.username}”", field="username")
    return {"cell_code": cmd.cell, "user_id": user.id,
            "weekdays": "".join(sorted(cmd.weekdays)), "starts": cmd.starts, "ends": cmd.ends,
            "note": cmd.note}


def duty_key(row: dict[str, Any]) -> tuple[str, int, str, str, str]:
    """What makes two duties the same (a second copy would only double the roster)."""
    return (row["cell_code"], row["user_id"], row["weekdays"], row["starts"], row["ends"])


def existing_duty(session: Session, row: dict[str, Any]) -> int | None:
    """The id of a duty already on the roster that is the same as `row`, if any."""
    return session.scalar(select(RosterEntry.id).where(
        RosterEntry.cell_code == row["cell_code"], RosterEntry.user_id == row["user_id"],
        RosterEntry.weekdays == row["weekdays"], RosterEntry.starts == row["starts"],
        RosterEntry.ends == row["ends"]).limit(1))


def _audit_view(entry: RosterEntry, username: str) -> dict[str, Any]:
    return {"cell": entry.cell_code, "username": username, "weekdays": entry.weekdays,
            "starts": entry.starts, "ends": entry.ends, "note": entry.note}


def add_roster_entry(session: Session, data: dict[str, Any], index: GridIndex | None,
                     actor_id: int | None = None) -> RosterEntry:
    """Validate and add a duty for a grid worker in a cell (recorded as the actor's change);
    the same duty twice is refused."""
    name = data.get("username") if isinstance(data, dict) else None
    user = session.scalar(select(User).where(User.username == name)) \
        if isinstance(name, str) else None
    row = check_duty(data, index, {name: user} if isinstance(name, str) else {})
    same = existing_duty(session, row)
    if same is not None and user is not None:
        cell = index.areas[row["cell_code"]].name if index is not None else row["cell_code"]
        raise InvalidInput(f"username: {user.display_name}在{cell}已有相同的值班"
                           f"（{weekdays_text(row['weekdays'])} {row['starts']}–{row['ends']}，"
                           f"#{same}）", field="username")
    entry = RosterEntry(**row)
    session.add(entry)
    session.flush()
    record_change(session, actor_id, "roster", entry.id, "create", None,
                  _audit_view(entry, str(name)))
    return entry


def add_roster_entries(session: Session, entries: list[dict[str, Any]],
                       index: GridIndex | None) -> int:
    """Validate every duty, then add them all in one INSERT (a refused one adds none)."""
    names = {e.get("username") for e in entries if isinstance(e, dict)}
    users: dict[str, User | None] = {
        u.username: u for u in session.scalars(select(User).where(User.username.in_(
            [n for n in names if isinstance(n, str)])))}
    rows = [check_duty(e, index, users) for e in entries]
    if rows:
        session.execute(RosterEntry.__table__.insert(), rows)
    return len(rows)


def delete_roster_entry(session: Session, entry_id: int, actor_id: int | None = None) -> None:
    """Remove a duty (recorded as the actor's change)."""
    found = session.execute(select(RosterEntry, User.username)
                            .join(User, User.id == RosterEntry.user_id)
                            .where(RosterEntry.id == entry_id)).first()
    before = _audit_view(*found) if found is not None else None
    if before is None or affected_rows(session.execute(
            delete(RosterEntry).where(RosterEntry.id == entry_id))) == 0:
        raise NotFound(f"没有排班记录 #{entry_id}")
    record_change(session, actor_id, "roster", entry_id, "delete", before, None)


def duty_cells(session: Session, user_id: int) -> frozenset[str]:
    """The cells a grid worker is on the roster for (any shift)."""
    return frozenset(session.scalars(
        select(RosterEntry.cell_code).where(RosterEntry.user_id == user_id)))


@dataclass(frozen=True)
class _Hours:
    """A duty's days and hours."""

    weekdays: str
    starts: str
    ends: str


def _covers(entry: RosterEntry | _Hours, local: datetime) -> bool:
    hhmm = local.strftime("%H:%M")
    day = str(local.isoweekday())
    if entry.starts < entry.ends:
        return day in entry.weekdays and entry.starts <= hhmm < entry.ends
    # Overnight: the evening part belongs to the listed day, the morning to the day before.
    if hhmm >= entry.starts:
        return day in entry.weekdays
    yesterday = str((local.isoweekday() - 2) % 7 + 1)
    return hhmm < entry.ends and yesterday in entry.weekdays


def on_duty(session: Session, cell: str, now: datetime) -> OnDuty:
    """The grid worker on duty in a cell at a time (Asia/Shanghai roster hours)."""
    local = now.astimezone(LOCAL_TZ)
    # Plain values, not roster objects: kept by the process beyond this session (memo).
    rows = memo(session, ("roster", cell), (RosterEntry, User), lambda: tuple(
        (_Hours(weekdays, starts, ends), username, name, active)
        for weekdays, starts, ends, username, name, active in session.execute(
            select(RosterEntry.weekdays, RosterEntry.starts, RosterEntry.ends, User.username,
                   User.display_name, User.active)
            .join(User, User.id == RosterEntry.user_id)
            .where(RosterEntry.cell_code == cell).order_by(RosterEntry.id))))
    for entry, username, name, active in rows:
        if active and _covers(entry, local):
            return OnDuty(username, name, f"值班网格员：{name}（{entry.starts}–{entry.ends}）")
    if not rows:
        return OnDuty(None, None, f"网格 {cell} 未排班：请派单员指定网格员")
    return OnDuty(None, None, f"网格 {cell} 此时（{local:%H:%M}）无人值班：请派单员指定网格员")



def cell_workers(session: Session, cell: str, now: datetime) -> list[dict[str, Any]]:
    """The grid workers on a cell's roster, by name, those on duty now first (the dispatcher
    picks one of them): username, name, on_duty, hours and weekdays of their duty."""
    local = now.astimezone(LOCAL_TZ)
    rows = session.execute(
        select(RosterEntry, User.username, User.display_name)
        .join(User, User.id == RosterEntry.user_id)
        .where(RosterEntry.cell_code == cell, User.active.is_(True))
        .order_by(RosterEntry.id)).all()
    workers: dict[str, dict[str, Any]] = {}
    for entry, username, name in rows:
        worker = workers.setdefault(username, {
            "username": username, "name": name or username, "on_duty": False, "duties": []})
        worker["on_duty"] = worker["on_duty"] or _covers(entry, local)
        worker["duties"].append(f"{weekdays_text(entry.weekdays)} {entry.starts}–{entry.ends}")
    return sorted(workers.values(), key=lambda w: not w["on_duty"])
