"""What a console shows of a ticket event: its console type (created, updated, sla_warning,
sla_overdue, transfer, alarm, alarm_escalated: CONTRACT.md), the ticket's summary (masked text,
the current clock, the alarm state), and who may see it (its audience, the rooms it goes to, and
a `Viewer`'s scope: the same rule as every other reader of tickets)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dispatch.core.models import Assignment, Event, Ticket
from dispatch.core.vocab import ALL_SEEING_ROLES, CLOSED_STATES, AssignmentStatus, Channel, Role
from dispatch.core.vocab import Status as S
from dispatch.intake.phones import mask_text
from dispatch.tickets.access import police_desk_ticket

TEXT_MAX = 120
ALL_ROOM = "all"
POLICE_ROOM = "police"  # the 110 desk: events of the tickets transferred either way

# The console's event types (CONTRACT.md); `alarm`: an emergency of an unattended channel,
# `alarm_escalated`: nobody acknowledged it in time, supervisors are called.
CREATED, UPDATED, SLA_WARNING, SLA_OVERDUE, TRANSFER = (
    "created", "updated", "sla_warning", "sla_overdue", "transfer")
ALARM, ALARM_ESCALATED = "alarm", "alarm_escalated"
WARNING_STEPS = frozenset({"sign_warning", "complete_warning"})
OVERDUE_STEPS = frozenset({"sign_overdue", "complete_overdue", "supervision"})
HANDLING = (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED)


def event_type(e: Event, ticket: Ticket) -> str:
    """The console's type of a ticket event."""
    if e.action == "intake":
        return TRANSFER if ticket.channel == Channel.POLICE110 else CREATED
    if e.action == "transfer_110":
        return TRANSFER
    if e.action == "raise_alarm":
        return ALARM
    if e.action == "escalate_alarm":
        return ALARM_ESCALATED
    step = (e.payload or {}).get("clock_step")
    if step in WARNING_STEPS:
        return SLA_WARNING
    if step in OVERDUE_STEPS:
        return SLA_OVERDUE
    return UPDATED


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _current_clock(t: Ticket, lead: Assignment | None
                   ) -> tuple[str | None, datetime | None, datetime | None]:
    """The clock that runs now: (name, deadline, when it turns amber)."""
    if t.supervised and t.supervise_deadline is not None and t.status not in CLOSED_STATES:
        return "supervise", t.supervise_deadline, None
    if lead is not None and lead.status == AssignmentStatus.DISPATCHED:
        return "sign", lead.sign_deadline, lead.sign_warn_at
    if lead is not None and lead.status == AssignmentStatus.SIGNED:
        return "complete", lead.complete_deadline, lead.complete_warn_at
    if t.status == S.REVIEWED and t.callback_deadline is not None:
        return "callback", t.callback_deadline, None
    return None, None, None


def _open_lead(t: Ticket) -> Assignment | None:
    for a in t.assignments:
        if a.role == "lead" and a.closed_at is None and a.status in (*HANDLING,
                                                                       AssignmentStatus.COMPLETED):
            return a
    return None


def shown_text(text: str) -> str:
    """A demand's text as consoles show it: numbers typed into it (phone, ID card) masked,
    since consoles of several departments share the events and no console shows the citizen;
    cut to TEXT_MAX characters."""
    masked = mask_text(text)
    return masked if len(masked) <= TEXT_MAX else masked[:TEXT_MAX - 1] + "…"


def summarise(t: Ticket, now: datetime, workers: dict[int, str] | None = None) -> dict[str, Any]:
    """A ticket as the console board and its live events show it (codes; names are added by
    the relay). No citizen data, and the text's numbers masked: consoles of several
    departments share the events."""
    lead = _open_lead(t)
    clock, deadline, warn_at = _current_clock(t, lead)
    active = [a for a in t.assignments if a.closed_at is None and a.status in HANDLING]
    overdue = any(
        (a.status == AssignmentStatus.DISPATCHED and now > a.sign_deadline)
        or now > a.complete_deadline or a.sign_overdue_at or a.complete_overdue_at
        for a in active)
    extension_pending = any(x.status == "pending" for x in t.extensions)
    status = S(t.status)
    queues = []
    if status in (S.NEW, S.REOPENED):
        queues.append("to_dispatch")
    if status == S.NEW and t.channel == Channel.POLICE110:
        queues.append("transfer")
    if status == S.RETURNED or co_returned(t):
        queues.append("returned")
    if extension_pending:
        queues.append("extension")
    if status == S.COMPLETED:
        queues.append("review")
    if overdue:
        queues.append("overdue")
    if t.supervised and status not in CLOSED_STATES:
        queues.append("supervised")
    alarm = _alarm_state(t)
    if alarm in ("raised", "escalated"):
        queues.insert(0, "alarm")
    worker_id = lead.grid_worker_id if lead is not None else None
    text_ = shown_text(t.text)
    return {
        "number": t.number, "status": t.status, "version": t.version, "channel": t.channel,
        "type": t.type, "category": t.category_code, "urgency": t.urgency,
        "police_matter": t.police_matter, "text": text_, "address": t.address,
        "street": t.street_code, "community": t.community_code, "cell": t.cell_code,
        "lon": t.lon, "lat": t.lat,
        "department": lead.department_code if lead is not None else None,
        "grid_worker": (workers or {}).get(worker_id) if worker_id else None,
        "clock": clock, "deadline": iso(deadline), "warn_at": iso(warn_at),
        "overdue": bool(overdue), "supervised": bool(t.supervised),
        "extension_pending": extension_pending, "queues": queues,
        # 挂起: the lead's completion clock stands until then (the countdown shows 已挂起).
        "suspended_until": iso(lead.suspended_until) if lead is not None else None,
        "open": status not in CLOSED_STATES,
        "created_at": iso(t.created_at), "updated_at": iso(t.updated_at),
        "alarm": alarm, "alarm_raised_at": iso(t.alarm_raised_at),
        "auto_dispatched": bool(lead is not None and lead.auto_dispatched),
    }


def co_returned(t: Ticket) -> list[Assignment]:
    """The co-handlers' returns a dispatcher has still to see to (退单待改派): while the ticket
    is being handled, each returned co-handler assignment no department was dispatched after."""
    if t.status not in (S.DISPATCHED, S.SIGNED):
        return []
    out = []
    for a in t.assignments:
        if a.role != "co" or a.status != AssignmentStatus.RETURNED or a.returned_at is None:
            continue
        returned_at = a.returned_at
        if not any(b.dispatched_at is not None and b.dispatched_at > returned_at
                   for b in t.assignments if b is not a):
            out.append(a)
    return out


def _alarm_state(t: Ticket) -> str | None:
    """None, or the alarm's state: raised (waiting for a dispatcher), escalated (to the
    supervisors, still waiting), acknowledged."""
    if t.alarm_raised_at is None:
        return None
    if t.alarm_acknowledged_at is not None:
        return "acknowledged"
    return "escalated" if t.alarm_escalated_at is not None else "raised"


def audience(t: Ticket) -> dict[str, Any]:
    """Who may see events of this ticket besides the all-seeing roles
    (dispatch/tickets/access.py)."""
    return {
        "departments": sorted({a.department_code for a in t.assignments}),
        "workers": sorted({a.grid_worker_id for a in t.assignments if a.grid_worker_id}),
        "cell": t.cell_code, "street": t.street_code,
        "police": police_desk_ticket(t),
    }


def rooms(aud: dict[str, Any]) -> list[str]:
    """The Socket.IO rooms an event goes to."""
    out = [ALL_ROOM]
    out += [f"dept:{d}" for d in aud.get("departments", ())]
    out += [f"worker:{w}" for w in aud.get("workers", ())]
    if aud.get("cell"):
        out.append(f"cell:{aud['cell']}")
    if aud.get("street"):
        out.append(f"street:{aud['street']}")
    if aud.get("police"):
        out.append(POLICE_ROOM)
    return out


@dataclass(frozen=True)
class Viewer:
    """Who watches a console: what decides the rooms they join and the events replayed."""

    user_id: int
    role: str
    department: str | None = None
    cells: frozenset[str] = frozenset()

    def rooms(self) -> list[str]:
        """The rooms this viewer joins (dispatchers and the other all-seeing roles: all)."""
        if self.role in ALL_SEEING_ROLES:
            return [ALL_ROOM]
        if self.role == Role.POLICE_DESK:
            return [POLICE_ROOM]
        out = [f"worker:{self.user_id}"] if self.role == Role.GRID_WORKER else []
        if self.role == Role.HANDLER and self.department:
            out.append(f"dept:{self.department}")
        if self.role == Role.GRID_WORKER:
            out += [f"cell:{c}" for c in sorted(self.cells)]
        return out

    def may_see(self, aud: dict[str, Any]) -> bool:
        """The same rule as the rooms, for replays from the database."""
        if self.role in ALL_SEEING_ROLES:
            return True
        if self.role == Role.HANDLER:
            return self.department is not None and self.department in aud.get("departments", ())
        if self.role == Role.GRID_WORKER:
            return self.user_id in aud.get("workers", ()) or aud.get("cell") in self.cells
        if self.role == Role.POLICE_DESK:
            return bool(aud.get("police"))
        return False
