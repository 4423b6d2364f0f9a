"""The import itself: the rows checked, the new ones located, routed and written with their
events and clocks, in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.core.imports import RejectedRow
from dispatch.core.models import Assignment, Event, Ticket
from dispatch.core.ports import Location, Routing
from dispatch.core.vocab import (
    AssignmentStatus,
    Outcome,
    Status,
)
from dispatch.intake.history_import.copying import (
    Sink,
    core_table,
    imported_refs,
    locate_all,
    reserve_numbers,
)
from dispatch.intake.history_import.mapping import HistoryGrid, HistoryMapping
from dispatch.intake.history_import.rows import HistoryReport, HistoryRow, Progress, check_rows
from dispatch.intake.history_import.stories import STORIES, Clocks, event_count
from dispatch.intake.history_import.vocabulary import (
    ANSWERED,
    BATCH,
    FIELD_NAMES,
    HANDLED,
    UNREACHABLE,
)
from dispatch.tickets.clocks import get_time_limits


@dataclass
class _Writer:
    sink: Sink
    now: datetime
    clocks: Clocks
    source: str
    tickets: list[dict[str, Any]] = field(default_factory=list)
    stories: list[tuple[HistoryRow, str | None, Routing]] = field(default_factory=list)
    # One JSON value per distinct routing, limit and flags: encoded once per batch.
    shared: dict[Any, Any] = field(default_factory=dict)

    def _shared(self, key: Any, make: Callable[[], Any]) -> Any:
        found = self.shared.get(key)
        if found is None:
            found = self.shared[key] = make()
        return found

    def ticket_row(self, r: HistoryRow, number: str, loc: Location, routing: Routing,
                   lead: str | None) -> None:
        status = r.state if r.state != ANSWERED else Status.ARCHIVED
        outcome = None
        if r.state == ANSWERED:
            outcome = Outcome.DIRECT_ANSWER
        elif r.state == Status.ARCHIVED:
            outcome = (Outcome.UNREACHABLE if r.satisfaction == UNREACHABLE else
                       Outcome.CALLBACK if r.satisfaction is not None else Outcome.NO_CALLBACK)
        closed = None
        if status in (Status.ARCHIVED, Status.VOID):
            closed = r.closed_at or r.callback_at or r.completed_at or r.created_at
        last = max([t for t in (r.created_at, r.dispatched_at, r.signed_at, r.completed_at,
                                r.callback_at, closed) if t is not None])
        answered = r.satisfaction not in (None, UNREACHABLE)
        callback_deadline = None
        if status == Status.REVIEWED:
            reviewed = r.completed_at or r.created_at
            limit = getattr(self.clocks.limits.callback, r.urgency)
            callback_deadline = self.clocks.deadline(reviewed, limit)[0]
        self.tickets.append({
            "number": number, "status": status,
            "version": event_count(r),
            "channel": r.channel, "type": r.type, "category_code": r.category,
            "urgency": r.urgency, "police_matter": False, "text": r.text, "outcome": outcome,
            "citizen_name": r.citizen_name, "citizen_phone": r.citizen_phone,
            "anonymous": r.anonymous, "confidential": r.confidential,
            "direct_contact": False, "address": r.address if r.address else loc.address,
            "lon": loc.lon, "lat": loc.lat, "cell_code": loc.cell,
            "community_code": loc.community, "street_code": loc.street,
            "grid_version": loc.grid_version,
            "location_flags": self._shared(("flags", loc.flags), lambda: list(loc.flags)),
            "routing": self._shared(routing, routing.as_dict),
            "import_ref": r.ref,
            "supervised": r.state == Status.REOPENED,
            "callback_deadline": callback_deadline,
            "callback_attempts": 1 if r.satisfaction == UNREACHABLE else 0,
            "satisfaction": r.satisfaction if answered else None,
            "resolved": r.resolved if answered else None,
            "created_at": r.created_at, "updated_at": last, "closed_at": closed,
        })
        self.stories.append((r, lead, routing))

    def flush(self) -> None:
        if not self.tickets:
            return
        assignments: list[dict[str, Any]] = []
        assignment_ids: dict[int, int] = {}
        events: list[dict[str, Any]] = []
        tickets, assignments_t, events_t = (core_table(Ticket), core_table(Assignment),
                                            core_table(Event))
        for ticket, (r, lead, routing) in zip(self.tickets, self.stories, strict=True):
            tid = ticket["id"] = self.sink.next_id(tickets)
            if r.state in HANDLED and lead is not None:
                a = self._assignment(tid, r, lead)
                a["id"] = assignment_ids[tid] = self.sink.next_id(assignments_t)
                assignments.append(a)
            for e in self._events(tid, ticket, r, lead, routing, assignment_ids.get(tid)):
                e["id"] = self.sink.next_id(events_t)
                events.append(e)
        self.sink.put(tickets, self.tickets)
        self.sink.put(assignments_t, assignments)
        self.sink.put(events_t, events)
        self.tickets, self.stories, self.shared = [], [], {}

    def _assignment(self, tid: int, r: HistoryRow, lead: str) -> dict[str, Any]:
        limits = self.clocks.limits
        at = r.dispatched_at or r.created_at
        sign_limit = limits.sign_limit(r.urgency)
        complete_limit = limits.complete_limit(r.type, r.urgency)
        sign, p1 = self.clocks.deadline(at, sign_limit)
        complete, p2 = self.clocks.deadline(at, complete_limit)
        ratio = limits.warning_ratio
        sign_warn = at + (sign - at) * ratio
        complete_warn = at + (complete - at) * ratio
        signed = r.signed_at or (at if r.state not in (Status.DISPATCHED, Status.RETURNED)
                                 else None)
        completed = r.completed_at
        status = {Status.DISPATCHED: AssignmentStatus.DISPATCHED,
                  Status.SIGNED: AssignmentStatus.SIGNED,
                  Status.RETURNED: AssignmentStatus.RETURNED}.get(
            Status(r.state), AssignmentStatus.COMPLETED)
        closed = None
        if r.state in (Status.REVIEWED, Status.REOPENED, Status.ARCHIVED):
            closed = completed  # the review closes the round
        returned = None
        if r.state == Status.RETURNED:
            returned = closed = r.closed_at or r.signed_at or at
        # An open clock: the steps that fell due before the import are marked fired now, so
        # the sweep sends no urges for the past; the later ones fire as usual.
        open_clock = r.state in (Status.DISPATCHED, Status.SIGNED)
        now = self.now

        def fired(step_at: datetime, running: bool) -> datetime | None:
            return now if open_clock and running and step_at <= now else None

        sign_running = signed is None
        return {
            "ticket_id": tid, "department_code": lead, "role": "lead",
            "status": status, "dispatched_at": at,
            "auto_dispatched": False,
            "sign_deadline": sign, "sign_warn_at": sign_warn, "signed_at": signed,
            "complete_deadline": complete, "complete_warn_at": complete_warn,
            "completed_at": completed, "deadline_provisional": p1 or p2,
            "sign_limit": self._shared(("limit", sign_limit), sign_limit.model_dump),
            "complete_limit": self._shared(("limit", complete_limit), complete_limit.model_dump),
            "extensions_used": 0, "result": r.result, "returned_at": returned,
            "return_reason": "原系统退单" if returned else None, "closed_at": closed,
            "sign_warned_at": fired(sign_warn, sign_running),
            "sign_overdue_at": fired(sign, sign_running),
            "complete_warned_at": fired(complete_warn, True),
            "complete_overdue_at": fired(complete, True),
            # Escalation (supervision past 5 working days) is not fired for the past either.
            "escalated_at": fired(complete, True),
        }

    def _events(self, tid: int, ticket: dict[str, Any], r: HistoryRow, lead: str | None,
                routing: Routing, assignment_id: int | None) -> list[dict[str, Any]]:
        imported = {"ref": r.ref, "file": self.source, "row": r.row}
        out = [{"ticket_id": tid, "at": r.created_at, "actor_role": "system",
                "action": "intake", "from_status": None, "to_status": Status.NEW,
                "reason": "历史工单导入",
                "payload": {"channel": r.channel, "imported": imported,
                            "location_flags": ticket["location_flags"],
                            "location": {"cell": ticket["cell_code"],
                                         "community": ticket["community_code"],
                                         "street": ticket["street_code"],
                                         "grid_version": ticket["grid_version"]},
                            "routing": ticket["routing"], "repeat_candidates": []}}]
        at = r.dispatched_at or r.created_at
        payload: dict[str, Any]
        when: datetime
        for action, frm, to in STORIES[r.state]:
            if action == "answer":
                when = r.closed_at or r.created_at
                payload = {"imported": True, "answer": r.result, "article_id": None,
                           "article_version": None}
            elif action == "void":
                when = r.closed_at or r.created_at
                payload = {"imported": True}
            elif action == "dispatch":
                when = at
                payload = {"imported": True, "dispatched_by": "import", "lead": lead,
                           "co_handlers": [], "grid_worker": None,
                           "assignment_ids": [assignment_id] if assignment_id else [],
                           "type": r.type, "category": r.category, "urgency": r.urgency,
                           "routing_overridden": routing.lead is not None
                           and routing.lead != lead,
                           "redispatch": False, "supervised": False}
            elif action == "sign":
                when = r.signed_at or at
                payload = {"imported": True, "assignment_id": assignment_id,
                           "department": lead, "role": "lead"}
            elif action == "return":
                when = r.closed_at or r.signed_at or at
                payload = {"imported": True, "assignment_id": assignment_id,
                           "department": lead, "role": "lead"}
            elif action == "complete":
                when = r.completed_at or at
                payload = {"imported": True, "assignment_id": assignment_id,
                           "department": lead, "role": "lead", "result": r.result}
            elif action == "review_accept":
                when = r.completed_at or at
                payload = {"imported": True,
                           "callback_needed": not r.anonymous and r.citizen_phone is not None}
            elif action == "callback":
                when = r.callback_at or r.completed_at or at
                payload = {"imported": True, "reached": True, "satisfaction": r.satisfaction,
                           "resolved": r.resolved, "via": "import", "previous_lead": lead}
            else:
                when, payload = at, {"imported": True}
            out.append({"ticket_id": tid, "at": when, "actor_role": "system",
                        "action": action, "from_status": frm, "to_status": to, "reason": None,
                        "payload": payload})
        if r.state == Status.ARCHIVED:
            when = r.callback_at or r.closed_at or r.completed_at or at
            if r.satisfaction == UNREACHABLE:
                out.append(self._event(tid, when, "callback", Status.REVIEWED, Status.ARCHIVED,
                                       {"imported": True, "reached": False, "attempt": 1,
                                        "unreachable": True, "via": "import"}))
            elif r.satisfaction is not None:
                out.append(self._event(tid, when, "callback", Status.REVIEWED, Status.ARCHIVED,
                                       {"imported": True, "reached": True,
                                        "satisfaction": r.satisfaction,
                                        "resolved": r.resolved, "via": "import"}))
            else:
                out.append(self._event(tid, r.closed_at or when, "close_without_callback",
                                       Status.REVIEWED, Status.ARCHIVED, {"imported": True}))
        return out

    @staticmethod
    def _event(tid: int, at: datetime, action: str, frm: str, to: str,
               payload: dict[str, Any]) -> dict[str, Any]:
        return {"ticket_id": tid, "at": at, "actor_role": "system",
                "action": action, "from_status": frm, "to_status": to, "reason": None,
                "payload": payload}


def import_history(session: Session, rows: Sequence[tuple[int, dict[str, str]]], *,
                   mapping: HistoryMapping, grid: HistoryGrid, now: datetime, source: str,
                   commit: bool = True, progress: Progress | None = None) -> HistoryReport:
    """Check every row; when none is rejected (and `commit`), write the rows not imported
    before, in the caller's transaction (the caller commits, then rebuilds the rollups). A
    handled ticket without a department in the file takes the catalogue's lead; with neither,
    the row is rejected."""
    started = time.perf_counter()
    report = HistoryReport(rows=len(rows))
    good, report.rejected = check_rows(session, rows, mapping, grid, now, progress)
    report.phases["check"] = time.perf_counter() - started
    if report.rejected:
        return report
    done = imported_refs(session, [r.ref for r in good])
    fresh = [r for r in good if r.ref not in done]
    report.skipped = len(good) - len(fresh)
    if not fresh:
        return report
    if progress is not None:
        progress("定位", 0, len(fresh))
    locations = locate_all(fresh, grid)
    routes: dict[tuple[Any, ...], Routing] = {}
    leads: list[tuple[Routing, str | None]] = []
    for r, loc in zip(fresh, locations, strict=True):
        key = (r.category, loc.cell, loc.community, loc.street, loc.district)
        routing = routes.get(key)
        if routing is None:
            routing = routes[key] = grid.route(r.category, loc)
        lead = (r.department or routing.lead) if r.state in HANDLED else r.department
        if r.state in HANDLED and lead is None:
            report.rejected.append(RejectedRow(
                r.row, "“承办单位”不能为空：该工单已派单，但文件未给出承办单位，派单目录也没有"
                       "对应的主办单位", FIELD_NAMES["department"]))
        leads.append((routing, lead))
    if report.rejected:
        return report
    if not commit:
        report.imported = len(fresh)
        return report
    report.phases["locate_route"] = time.perf_counter() - started - report.phases["check"]
    numbers = reserve_numbers(session, fresh)
    clocks = Clocks(session, get_time_limits(session))
    clocks.read_years(min(r.created_at for r in fresh), now)
    sink = Sink(session)
    sink.relax_commit()
    sink.check_keys_once(
        [core_table(m) for m in (Ticket, Assignment, Event)],
        {core_table(Ticket).c.category_code: {r.category for r in fresh if r.category},
         core_table(Assignment).c.department_code: {
             lead for r, (_, lead) in zip(fresh, leads, strict=True)
             if r.state in HANDLED and lead}})
    sink.reserve(core_table(Ticket), len(fresh))
    sink.reserve(core_table(Assignment), sum(
        1 for r, (_, lead) in zip(fresh, leads, strict=True) if r.state in HANDLED and lead))
    sink.reserve(core_table(Event), sum(event_count(r) for r in fresh))
    writer = _Writer(sink, now, clocks, source)
    sink.start()
    try:
        for i, (r, loc, (routing, lead)) in enumerate(zip(fresh, locations, leads,
                                                          strict=True)):
            writer.ticket_row(r, numbers[i], loc, routing, lead)
            report.by_state[r.state] = report.by_state.get(r.state, 0) + 1
            if len(writer.tickets) >= BATCH:
                writer.flush()
                if progress is not None:
                    progress("写入", i + 1, len(fresh))
        writer.flush()
    finally:
        sink.close()
    if progress is not None:
        progress("写入", len(fresh), len(fresh))
    report.imported = len(fresh)
    report.committed = True
    report.seconds = time.perf_counter() - started
    report.phases["write"] = (report.seconds - report.phases["check"]
                              - report.phases["locate_route"])
    report.phases["write_database"] = sink.database_seconds
    return report


def count_imported(session: Session) -> int:
    """How many tickets came from an old system."""
    return session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.import_ref.is_not(None))) or 0
