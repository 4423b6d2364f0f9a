"""The transition table of DOMAIN.md and the one writer of ticket and assignment status.

Every change of a ticket goes through `perform` (or `open_ticket` for intake): it checks the
action, the role, the client's version and the current state, applies the action and appends
the event. Nothing else in the project assigns a status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from weakref import WeakSet

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.attributes import flag_modified

from dispatch.core.actors import SYSTEM, Actor
from dispatch.core.commands import PAYLOADS, AutoDispatchPayload, NoPayload, Strict, parse
from dispatch.core.errors import Conflict, Forbidden, InvalidInput, NotFound, StaleVersion
from dispatch.core.memo import memo
from dispatch.core.models import Assignment, Event, Extension, Ticket, User
from dispatch.core.ports import Directory, IntakePorts, Location
from dispatch.core.vocab import (
    ACTIVE_ASSIGNMENT,
    CLOSED_STATES,
    OPEN_STATES,
    AssignmentStatus,
    Outcome,
    Role,
    Satisfaction,
    Status,
)
from dispatch.intake.repeats import category_tree
from dispatch.tickets import attachments
from dispatch.tickets.access import can_see
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.clocks import (
    Limit,
    TimeLimits,
    add_working_days,
    deadline_after,
    get_time_limits,
    warning_time,
)
from dispatch.triage import knowledge

__all__ = ["SYSTEM", "Actor", "perform", "open_ticket", "TABLE"]

S = Status
R = Role
SAME = None  # "state unchanged" in a rule's targets
HANDLING = frozenset({S.DISPATCHED, S.SIGNED})
HANDLING_ASSIGNMENT = (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED)
ASSIGNEES = frozenset({R.HANDLER, R.GRID_WORKER})




@dataclass(frozen=True)
class Rule:
    """One row of the state table: from which states, to which, by which roles."""

    from_states: frozenset[Status]
    to_states: frozenset[Status | None]
    roles: frozenset[Role]


def _rule(frm: set[Status] | frozenset[Status], to: set[Status | None],
          roles: set[Role] | frozenset[Role]) -> Rule:
    return Rule(frozenset(frm), frozenset(to), frozenset(roles))


TABLE: dict[str, Rule] = {
    "answer": _rule({S.NEW}, {S.ARCHIVED}, {R.OPERATOR}),
    "dispatch": _rule({S.NEW, S.RETURNED, S.REOPENED}, {S.DISPATCHED}, {R.DISPATCHER, R.SYSTEM}),
    # A supervisor sends again what 110 rejected, with an arbitration (首接); the system sends
    # an emergency of an unattended channel when `auto_transfer_110` is on.
    "transfer_110": _rule({S.NEW}, {S.TRANSFERRED_110},
                          {R.OPERATOR, R.DISPATCHER, R.SUPERVISOR, R.SYSTEM}),
    "merge": _rule({S.NEW}, {S.MERGED}, {R.DISPATCHER}),
    "void": _rule({S.NEW}, {S.VOID}, {R.OPERATOR, R.DISPATCHER}),
    # Assignee actions: the lead's moves the ticket, a co-handler's only its own assignment.
    "sign": _rule(HANDLING, {S.SIGNED, SAME}, ASSIGNEES),
    "return": _rule(HANDLING, {S.RETURNED, SAME}, ASSIGNEES),
    "complete": _rule(HANDLING, {S.COMPLETED, SAME}, ASSIGNEES),
    "review_accept": _rule({S.COMPLETED}, {S.REVIEWED}, {R.DISPATCHER}),
    "review_reject": _rule({S.COMPLETED}, {S.SIGNED}, {R.DISPATCHER}),
    "callback": _rule({S.REVIEWED}, {S.ARCHIVED, S.REOPENED, SAME}, {R.OPERATOR, R.SYSTEM}),
    "close_without_callback": _rule({S.REVIEWED}, {S.ARCHIVED}, {R.SYSTEM}),
    "request_extension": _rule(HANDLING, {SAME}, ASSIGNEES),
    "approve_extension": _rule(HANDLING, {SAME}, {R.DISPATCHER}),
    "refuse_extension": _rule(HANDLING, {SAME}, {R.DISPATCHER}),
    "urge": _rule(OPEN_STATES, {SAME}, {R.SUPERVISOR, R.DISPATCHER, R.SYSTEM}),
    "supervise": _rule(OPEN_STATES, {SAME}, {R.SUPERVISOR, R.DISPATCHER, R.SYSTEM}),
    "note": _rule(OPEN_STATES, {SAME}, set(Role)),
    # 一键转接 / 三方通话 during the call: logged on the ticket, the state stays.
    "call_transfer": _rule(OPEN_STATES, {SAME}, {R.OPERATOR, R.DISPATCHER}),
    "relocate": _rule({S.NEW, S.RETURNED, S.REOPENED}, {SAME},
                      {R.OPERATOR, R.DISPATCHER, R.SYSTEM}),
    "police_accept": _rule({S.TRANSFERRED_110}, {SAME}, {R.POLICE_DESK}),
    "police_reject": _rule({S.TRANSFERRED_110}, {S.NEW}, {R.POLICE_DESK}),
    "police_complete": _rule({S.TRANSFERRED_110}, {S.ARCHIVED}, {R.POLICE_DESK}),
    "follow_parent": _rule({S.MERGED}, {S.ARCHIVED}, {R.SYSTEM}),
    "recompute_deadlines": _rule(OPEN_STATES, {SAME}, {R.SYSTEM}),
    # The emergency alarm of an unattended channel (DOMAIN.md, Triage): raised at intake,
    # acknowledged by a dispatcher, escalated to supervisors by the sweep when not
    # acknowledged in time.
    "raise_alarm": _rule(OPEN_STATES, {SAME}, {R.SYSTEM}),
    "acknowledge_alarm": _rule(OPEN_STATES, {SAME}, {R.DISPATCHER, R.SUPERVISOR}),
    "escalate_alarm": _rule(OPEN_STATES, {SAME}, {R.SYSTEM}),
    # 智能派单 taken back to the dispatcher's queue.
    "take_back": _rule(HANDLING, {S.NEW}, {R.DISPATCHER}),
}

SYSTEM_ACTIONS = frozenset({"close_without_callback", "follow_parent", "recompute_deadlines",
                            "raise_alarm", "escalate_alarm"})
# Actions people and machine clients may ask for; the rest are taken by the system itself.
PUBLIC_ACTIONS = tuple(a for a in TABLE if a not in SYSTEM_ACTIONS)


@dataclass
class Context:
    """What an action handler works with."""

    session: Session
    ticket: Ticket
    actor: Actor
    payload: Any
    now: datetime
    directory: Directory
    limits: TimeLimits
    ports: IntakePorts = field(default_factory=IntakePorts)
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """What a handler decided: the target state (None: unchanged) and what the event says."""

    to: Status | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome | None = None


@dataclass(frozen=True)
class ActionResult:
    ticket: Ticket
    events: list[Event]


def check(rule_action: str, status: Status, role: Role) -> None:
    """Refuse an action not in the table, not for this role, or not from this state."""
    rule = TABLE.get(rule_action)
    if rule is None:
        raise NotFound(f"unknown action '{rule_action}'", field="action")
    if role not in rule.roles:
        raise Forbidden(f"role '{role}' may not '{rule_action}'")
    if status not in rule.from_states:
        raise Conflict(f"'{rule_action}' is not allowed while the ticket is {status}")


def perform(
    session: Session,
    ticket: Ticket,
    action: str,
    actor: Actor,
    payload: Any,
    *,
    now: datetime,
    directory: Directory,
    expected_version: int | None = None,
    ports: IntakePorts | None = None,
) -> ActionResult:
    """Take one action of the state table on a ticket; raises a DomainError and writes
    nothing when refused. `ports` locate and route again (relocate, a changed category)."""
    if action not in TABLE or action not in PAYLOADS:
        raise NotFound(f"unknown action '{action}'", field="action")
    body = payload if isinstance(payload, Strict) else parse(PAYLOADS[action], payload or {})
    if not can_see(session, actor, ticket):
        raise NotFound(f"ticket {ticket.number} not found")
    if expected_version is not None and expected_version != ticket.version:
        raise StaleVersion(
            f"ticket {ticket.number} is at version {ticket.version}, not {expected_version}; "
            "reload it and try again",
            field="version",
        )
    check(action, Status(ticket.status), actor.role)
    lock_ticket(session, ticket)
    ctx = Context(session, ticket, actor, body, now, directory, get_time_limits(session),
                  ports or IntakePorts())
    step = HANDLERS[action](ctx)
    _write(ctx, ticket, action, step, reason=getattr(body, "reason", None))
    _follow_up(ctx, ticket)
    # What the action owes others (110, the citizen's questionnaire), in this same transaction:
    # the table of consequences, dispatch/subscribers.py.
    for consequence in _on_action():
        consequence(session, ticket, action, getattr(body, "reason", None), now)
    return ActionResult(ticket, ctx.events)


OnAction = Callable[[Session, Ticket, str, "str | None", datetime], None]
_ON_ACTION: list[OnAction] = []


def set_consequences(handlers: list[OnAction]) -> None:
    """What every action owes others; set once by `dispatch.subscribers.install`."""
    _ON_ACTION[:] = handlers


def _on_action() -> list[OnAction]:
    if not _ON_ACTION:  # acting without them would silently lose what 110 is owed
        raise RuntimeError("dispatch.subscribers.install() must run before tickets are handled")
    return _ON_ACTION


def available_actions(ticket: Ticket, actor: Actor) -> list[str]:
    """The public actions the state table lets this actor try on this ticket now (what a page
    offers as buttons; `perform` still decides, with the payload)."""
    status = Status(ticket.status)
    held = _held_assignment(ticket, actor)
    out = []
    for action in PUBLIC_ACTIONS:
        rule = TABLE[action]
        if actor.role not in rule.roles or status not in rule.from_states:
            continue
        if action in ASSIGNEE_ACTIONS and actor.role in ASSIGNEES:
            if held is None or held.status not in ASSIGNEE_ACTIONS[action]:
                continue
        if action in ("approve_extension", "refuse_extension") and not any(
                x.status == "pending" for x in ticket.extensions):
            continue
        if action == "transfer_110" and first_receiver_refusal(ticket, actor.role, "—"):
            continue
        if action == "acknowledge_alarm" and (ticket.alarm_raised_at is None
                                              or ticket.alarm_acknowledged_at is not None):
            continue
        if action == "take_back" and not auto_dispatched(ticket):
            continue
        out.append(action)
    return out


# What an assignee's own assignment must be in for each of their actions.
ASSIGNEE_ACTIONS: dict[str, tuple[str, ...]] = {
    "sign": (AssignmentStatus.DISPATCHED,),
    "return": HANDLING_ASSIGNMENT,
    "complete": (AssignmentStatus.SIGNED,),
    "request_extension": HANDLING_ASSIGNMENT,
}


def _held_assignment(ticket: Ticket, actor: Actor) -> Assignment | None:
    for a in ticket.assignments:
        if not is_open(a):
            continue
        if actor.role == R.HANDLER and a.department_code == actor.department_code:
            return a
        if actor.role == R.GRID_WORKER and a.grid_worker_id == actor.id:
            return a
    return None


def lock_ticket(session: Session, ticket: Ticket) -> None:
    """Take the ticket's row lock before writing anything, so every action locks in the same
    order (ticket first, then its assignments) and two actions cannot deadlock; refuse if the
    ticket changed since it was read.

    On PostgreSQL the lock is held until the transaction (or the savepoint that took it) ends,
    so nobody else can change the row meanwhile: a ticket this transaction locked already is
    not asked again (a batch of actions on one ticket locks it once)."""
    locked = session.info.get(_LOCKED)
    if locked is not None and ticket in locked:
        return
    current = session.execute(_LOCK, {"id": ticket.id}).scalar_one()
    if current != ticket.version:
        raise StaleVersion(f"ticket {ticket.number} was changed by someone else just now; "
                           "reload it and try again", field="version")
    if session.get_bind().dialect.name == "postgresql":  # SQLite takes no row locks
        session.info.setdefault(_LOCKED, WeakSet()).add(ticket)


_LOCKED = "tickets_locked"
_LOCK = (select(Ticket.version).where(Ticket.id == bindparam("id")).with_for_update()
         .execution_options(autoflush=False))


def locks_released(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None or transaction.nested:  # not a flush's subtransaction
        session.info.pop(_LOCKED, None)


def open_ticket(session: Session, ticket: Ticket, actor: Actor, now: datetime,
                payload: dict[str, Any]) -> Event:
    """Give a new ticket its first state and its intake event."""
    ticket.status = S.NEW
    ticket.created_at = ticket.updated_at = now
    # It has no assignments, extensions or merged repeats yet: known now, never asked later.
    ticket.assignments, ticket.extensions, ticket.children = [], [], []
    event = Event(ticket=ticket, at=now, actor_id=actor.id, actor_role=actor.role,
                  action="intake", from_status=None, to_status=S.NEW, payload=payload)
    session.add(ticket)
    session.add(event)
    return event


def _write(ctx: Context, ticket: Ticket, action: str, step: Step, *, reason: str | None,
           actor: Actor | None = None) -> None:
    actor = actor or ctx.actor
    rule = TABLE[action]
    if step.to not in rule.to_states:  # a handler bug, never a user error
        raise AssertionError(f"{action} may not lead to {step.to}")
    before = ticket.status
    after = step.to or before
    ticket.status = after
    ticket.updated_at = ctx.now  # always dirty: the version check runs on every action
    flag_modified(ticket, "updated_at")  # even when `now` equals the last update
    if step.outcome is not None:
        ticket.outcome = step.outcome
    if after in CLOSED_STATES and before not in CLOSED_STATES:
        ticket.closed_at = ctx.now
    event = Event(ticket=ticket, at=ctx.now, actor_id=actor.id, actor_role=actor.role,
                  action=action, from_status=before, to_status=after, reason=reason,
                  payload=step.payload)
    ctx.session.add(event)
    ctx.events.append(event)


def _follow_up(ctx: Context, ticket: Ticket) -> None:
    """What the system does at once after some transitions."""
    if ticket.status == S.REVIEWED and not needs_callback(ticket):
        _write(ctx, ticket, "close_without_callback",
               Step(S.ARCHIVED, {"why": "anonymous or no way to reach the citizen"},
                    Outcome.NO_CALLBACK),
               reason=None, actor=SYSTEM)
    if ticket.status == S.ARCHIVED:
        for child in ticket.children:
            if child.status == S.MERGED:
                _write(ctx, child, "follow_parent",
                       Step(S.ARCHIVED, {"parent": ticket.number}, Outcome.WITH_PARENT),
                       reason=None, actor=SYSTEM)


def needs_callback(ticket: Ticket) -> bool:
    """A callback is owed to every reachable, non-anonymous citizen."""
    return not ticket.anonymous and bool(ticket.citizen_phone or ticket.citizen_openid)


# ---------------------------------------------------------------- assignments and clocks


def own_assignment(ctx: Context) -> Assignment:
    """The active assignment the acting handler or grid worker holds on this ticket."""
    held = _held_assignment(ctx.ticket, ctx.actor)
    if held is not None:
        return held
    raise Forbidden(f"you hold no active assignment on ticket {ctx.ticket.number}")


def lead_assignment(ticket: Ticket) -> Assignment | None:
    """The active lead assignment, if any."""
    for a in ticket.assignments:
        if a.role == "lead" and is_open(a):
            return a
    return None


def is_open(a: Assignment) -> bool:
    """Still part of the current handling round (not returned, cancelled or closed)."""
    return a.closed_at is None and a.status in ACTIVE_ASSIGNMENT


def _close_round(ticket: Ticket, now: datetime) -> None:
    """Close the current round: completions stay completed, the rest are cancelled."""
    for a in ticket.assignments:
        if is_open(a):
            done = a.status == AssignmentStatus.COMPLETED
            _close_assignment(a, AssignmentStatus.COMPLETED if done
                              else AssignmentStatus.CANCELLED, now)


def _moves_ticket(a: Assignment, status: Status) -> Status | None:
    return status if a.role == "lead" else SAME


def _start_assignment(ctx: Context, department: str, role: str,
                      grid_worker: User | None) -> Assignment:
    ticket, limits, now = ctx.ticket, ctx.limits, ctx.now
    sign_limit = limits.sign_limit(ticket.urgency)
    complete_limit = limits.complete_limit(ticket.type, ticket.urgency)
    sign = deadline_after(ctx.session, now, sign_limit)
    complete = deadline_after(ctx.session, now, complete_limit)
    a = Assignment(
        ticket=ticket, department_code=department, role=role,
        grid_worker_id=grid_worker.id if grid_worker else None,
        status=AssignmentStatus.DISPATCHED, dispatched_at=now, dispatched_by_id=ctx.actor.id,
        sign_deadline=sign.at, sign_warn_at=warning_time(now, sign.at, limits.warning_ratio),
        complete_deadline=complete.at,
        complete_warn_at=warning_time(now, complete.at, limits.warning_ratio),
        deadline_provisional=sign.provisional or complete.provisional,
        sign_limit=sign_limit.model_dump(), complete_limit=complete_limit.model_dump(),
        extensions_used=0,
    )
    ctx.session.add(a)
    return a


def _close_assignment(a: Assignment, status: AssignmentStatus, now: datetime) -> None:
    a.status = status
    a.closed_at = now


def _assignment_payload(a: Assignment) -> dict[str, Any]:
    return {"assignment_id": a.id, "department": a.department_code, "role": a.role}


# ---------------------------------------------------------------- handlers


def _answer(c: Context) -> Step:
    p = c.payload
    payload = {"answer": p.answer, "article_id": p.article_id,
               "article_version": p.article_version}
    if p.article_id is not None:
        # Record the version actually given (default: the current one) and its title.
        given = knowledge.answer_version(c.session, p.article_id, p.article_version,
                                         knowledge.local_date(c.ticket.created_at))
        payload |= {"article_version": given.version, "article_title": given.title}
    elif p.article_version is not None:
        raise InvalidInput("article_id: name the article whose version was given",
                           field="article_id")
    return Step(S.ARCHIVED, payload, Outcome.DIRECT_ANSWER)


def _department(c: Context, code: str, field_name: str) -> str:
    dept = c.directory.department(code)
    if dept is None or not dept.active:
        raise InvalidInput(f"{field_name}: no active department '{code}'", field=field_name)
    return dept.code


def _previous_lead(ticket: Ticket) -> str | None:
    leads = [a for a in ticket.assignments if a.role == "lead"]
    return leads[-1].department_code if leads else None


def _dispatch(c: Context) -> Step:
    p, t = c.payload, c.ticket
    if p.category is not None:
        category = category_tree(c.session).get(p.category)
        if category is None or not category[1]:
            raise InvalidInput(f"category: unknown category '{p.category}'", field="category")
        if p.category != t.category_code and p.lead is None:
            # The suggested lead was for the old category: route the new one.
            t.routing = c.ports.router.route(p.category, ticket_location(t)).as_dict()
        t.category_code = p.category
    if p.type is not None:
        t.type = p.type
    if p.urgency is not None:
        t.urgency = p.urgency
    if t.type is None:
        raise InvalidInput("type: the request type must be set before dispatch", field="type")
    if t.category_code is None:
        raise InvalidInput("category: the category must be set before dispatch",
                           field="category")
    routing = t.routing or {}
    suggested = routing.get("lead")
    lead_code = p.lead or (_previous_lead(t) if t.status == S.REOPENED else None) or suggested
    if lead_code is None:
        raise InvalidInput("lead: a lead department is required", field="lead")
    # Taking the routing's lead takes its co-handlers and grid worker too, unless given.
    follows_routing = p.lead is None and lead_code == suggested
    given = p.model_fields_set
    co_codes = (p.co_handlers if "co_handlers" in given or not follows_routing
                else routing.get("co_handlers") or [])
    worker_name = (p.grid_worker if "grid_worker" in given or not follows_routing
                   else routing.get("grid_worker"))
    lead = _department(c, lead_code, "lead")
    co = [_department(c, code, "co_handlers") for code in co_codes]
    if lead in co or len(set(co)) != len(co):
        raise InvalidInput("co_handlers: each department may appear once, apart from the lead",
                           field="co_handlers")
    worker = None
    if worker_name is not None:
        worker = memo(c.session, ("user", worker_name), (User,), lambda: c.session.scalar(
            select(User).where(User.username == worker_name)))
        if worker is None or worker.role != R.GRID_WORKER or not worker.active:
            raise InvalidInput(f"grid_worker: no active grid worker '{worker_name}'",
                               field="grid_worker")
    _close_round(t, c.now)
    made = [_start_assignment(c, lead, "lead", worker)]
    made += [_start_assignment(c, code, "co", None) for code in co]
    auto = isinstance(p, AutoDispatchPayload)
    if auto and c.actor.role != R.SYSTEM:  # a programming error, never a client's
        raise Forbidden("智能派单只能由系统发起")
    for a in made:
        a.auto_dispatched = auto
    c.session.flush()
    lead_a = made[0]
    how: dict[str, Any] = {"dispatched_by": "auto" if auto else "dispatcher"}
    if isinstance(p, AutoDispatchPayload):
        how |= {"reasons": list(p.reasons), "confidence": p.confidence,
                "threshold": p.threshold, "setting": p.setting, "source": p.source}
    return Step(S.DISPATCHED, {
        **how,
        "lead": lead, "co_handlers": co, "grid_worker": worker_name,
        "assignment_ids": [a.id for a in made],
        "sign_deadline": lead_a.sign_deadline.isoformat(),
        "complete_deadline": lead_a.complete_deadline.isoformat(),
        "deadline_provisional": lead_a.deadline_provisional,
        "type": t.type, "category": t.category_code, "urgency": t.urgency,
        "routing_overridden": suggested is not None and suggested != lead,
        "redispatch": t.status != S.NEW,
        "supervised": t.supervised,
    })


def ticket_location(t: Ticket) -> Location:
    """Where a ticket was located, as the router reads it."""
    return Location(t.lon, t.lat, t.address, t.cell_code, t.community_code, t.street_code,
                    t.grid_version, tuple(t.location_flags or ()))


def _relocate(c: Context) -> Step:
    p, t = c.payload, c.ticket
    if (p.lon is None) != (p.lat is None):
        missing = "lat" if p.lat is None else "lon"
        raise InvalidInput(f"{missing}: give both lon and lat, or neither", field=missing)
    if p.lon is None and p.address is None:
        raise InvalidInput("address: give lon and lat, or an address", field="address")
    before = {"location": {"lon": t.lon, "lat": t.lat, "address": t.address,
                           "cell": t.cell_code, "street": t.street_code},
              "routing": t.routing}
    loc = c.ports.locator.locate(p.lon, p.lat, p.crs, p.address)
    routing = c.ports.router.route(t.category_code, loc)
    t.address = loc.address if loc.address is not None else p.address
    t.lon, t.lat = loc.lon, loc.lat
    t.cell_code, t.community_code, t.street_code = loc.cell, loc.community, loc.street
    t.grid_version, t.location_flags = loc.grid_version, list(loc.flags)
    t.routing = routing.as_dict()
    return Step(None, {
        "before": before,
        "location": {"lon": loc.lon, "lat": loc.lat, "address": t.address, "cell": loc.cell,
                     "community": loc.community, "street": loc.street,
                     "grid_version": loc.grid_version, "flags": list(loc.flags),
                     "precision": loc.precision, "reasons": list(loc.reasons)},
        "routing": t.routing,
    })


SUPERVISOR_ONLY_AFTER_REJECTION = ("督办员只能在110退回后填写仲裁意见再次转110（transfer_110）；"
                                  "其余转110由话务员或派单员办理")


def first_receiver_refusal(ticket: Ticket, role: Role, arbitration: str | None) -> str | None:
    """Why 首接 forbids this transfer to 110 (None: it may go). After 110 rejected a ticket,
    12345 keeps it: only a supervisor may send it again, with an arbitration; a matter 110
    rejected again after an arbitration stays with 12345 for good."""
    rejected = [e for e in ticket.events if e.action == "police_reject"]
    if not rejected:
        return SUPERVISOR_ONLY_AFTER_REJECTION if role == R.SUPERVISOR else None
    cause = rejected[-1].reason or (rejected[-1].payload or {}).get("cause") or "未说明"
    arbitrated = [e for e in ticket.events
                  if e.action == "transfer_110" and (e.payload or {}).get("arbitration")]
    if arbitrated and arbitrated[-1].id is not None and rejected[-1].id is not None \
            and rejected[-1].id > arbitrated[-1].id:
        return (f"110 在仲裁后再次退回此工单（原因：{cause}）。双方均不受理的事项按首接原则"
                "由 12345 办理，不能再转110")
    if role not in (R.SUPERVISOR,):
        return (f"110 已退回此工单（原因：{cause}）。按首接原则由 12345 办理；如确需再次"
                "转110，须由督办员填写仲裁意见后转出")
    if not arbitration:
        return (f"110 已退回此工单（原因：{cause}）。再次转110须填写仲裁意见"
                "（arbitration）")
    return None


def _transfer_110(c: Context) -> Step:
    p, t = c.payload, c.ticket
    refusal = first_receiver_refusal(t, c.actor.role, p.arbitration)
    if refusal == SUPERVISOR_ONLY_AFTER_REJECTION:
        raise Forbidden(refusal)
    if refusal is not None:
        raise Conflict(refusal, field="arbitration" if c.actor.role == R.SUPERVISOR else None)
    if p.reason is None:
        raise InvalidInput("reason: 请填写转110的理由", field="reason")
    payload: dict[str, Any] = {"direction": "to_110"}
    if p.arbitration is not None:
        if t.police_state != "rejected":
            raise InvalidInput("arbitration: 仅在110退回后再次转110时填写仲裁意见",
                               field="arbitration")
        payload |= {"arbitration": p.arbitration, "arbitrated_by": c.actor.username,
                    "previous_cause": t.police_cause}
    if c.actor.role == R.SYSTEM:
        payload["automatic"] = True  # auto_transfer_110: an emergency of an unattended channel
    t.police_state = "pending"
    t.police_cause = None
    return Step(S.TRANSFERRED_110, payload)


# ---------------------------------------------------------------- alarms and 智能派单


def _raise_alarm(c: Context) -> Step:
    t = c.ticket
    if t.alarm_raised_at is not None:
        raise Conflict(f"工单 {t.number} 已发出过警报")
    t.alarm_raised_at = c.now
    return Step(SAME, {"numbers": list(c.payload.numbers), "reasons": list(c.payload.reasons),
                       "channel": t.channel})


def _local_time(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%H:%M:%S")


def _acknowledge_alarm(c: Context) -> Step:
    t = c.ticket
    if t.alarm_raised_at is None:
        raise Conflict(f"工单 {t.number} 没有警报，无需确认")
    if t.alarm_acknowledged_at is not None:
        who = c.session.get(User, t.alarm_acknowledged_by_id) \
            if t.alarm_acknowledged_by_id else None
        by = f"由 {who.display_name or who.username} " if who is not None else ""
        raise Conflict(f"工单 {t.number} 的警报已于 {_local_time(t.alarm_acknowledged_at)} "
                       f"{by}确认，无需重复确认")
    t.alarm_acknowledged_at = c.now
    t.alarm_acknowledged_by_id = c.actor.id
    waited = (c.now - t.alarm_raised_at).total_seconds()
    return Step(SAME, {"raised_at": t.alarm_raised_at.isoformat(), "waited_s": round(waited, 1),
                       "escalated": t.alarm_escalated_at is not None})


def _escalate_alarm(c: Context) -> Step:
    t = c.ticket
    if t.alarm_raised_at is None or t.alarm_acknowledged_at is not None \
            or t.alarm_escalated_at is not None:
        raise Conflict(f"工单 {t.number} 没有待升级的警报")
    t.alarm_escalated_at = c.now
    waited = (c.now - t.alarm_raised_at).total_seconds()
    return Step(SAME, {"raised_at": t.alarm_raised_at.isoformat(), "waited_s": round(waited, 1),
                       "to": "supervisor"})


def auto_dispatched(ticket: Ticket) -> bool:
    """The current handling round was dispatched by the system (智能派单)."""
    lead = lead_assignment(ticket)
    return lead is not None and bool(lead.auto_dispatched)


def _take_back(c: Context) -> Step:
    t = c.ticket
    lead = lead_assignment(t)
    if lead is None or not lead.auto_dispatched:
        raise Conflict(f"工单 {t.number} 不是智能派单，不能收回；人工派出的工单请由承办单位退单"
                       "后改派")
    taken = [a for a in t.assignments if is_open(a)]
    for a in taken:
        _close_assignment(a, AssignmentStatus.CANCELLED, c.now)
    return Step(S.NEW, {"department": lead.department_code, "auto_dispatched": True,
                        "assignment_ids": [a.id for a in taken],
                        "signed": lead.signed_at is not None})


def _merge(c: Context) -> Step:
    t = c.ticket
    parent = c.session.scalar(select(Ticket).where(Ticket.number == c.payload.parent))
    if parent is None or not can_see(c.session, c.actor, parent):
        raise InvalidInput(f"parent: no ticket numbered '{c.payload.parent}'", field="parent")
    if parent.id == t.id:
        raise InvalidInput("parent: a ticket cannot be merged into itself", field="parent")
    lock_ticket(c.session, parent)
    if parent.status in CLOSED_STATES:
        raise Conflict(f"ticket {parent.number} is {parent.status}; merge into an open ticket")
    if t.children:
        raise Conflict(f"ticket {t.number} has repeats merged into it; it cannot be merged")
    t.parent = parent
    _write(c, parent, "note", Step(SAME, {"repeat_linked": t.number}), reason="repeat merged")
    return Step(S.MERGED, {"parent": parent.number})


def _void(c: Context) -> Step:
    if c.ticket.children:
        raise Conflict(f"ticket {c.ticket.number} has repeats merged into it; it cannot be void")
    return Step(S.VOID)


def _sign(c: Context) -> Step:
    a = own_assignment(c)
    if a.status != AssignmentStatus.DISPATCHED:
        raise Conflict(f"the assignment of {a.department_code} is {a.status}, not awaiting "
                       "sign-for")
    a.status = AssignmentStatus.SIGNED
    a.signed_at = c.now
    return Step(_moves_ticket(a, S.SIGNED),
                {**_assignment_payload(a), "on_time": c.now <= a.sign_deadline})


def _return(c: Context) -> Step:
    a = own_assignment(c)
    if a.status not in (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED):
        raise Conflict(f"the assignment of {a.department_code} is {a.status}; it cannot be "
                       "returned")
    _close_assignment(a, AssignmentStatus.RETURNED, c.now)
    a.returned_at = c.now
    a.return_reason = c.payload.reason
    return Step(_moves_ticket(a, S.RETURNED), _assignment_payload(a))


def _complete(c: Context) -> Step:
    a = own_assignment(c)
    if a.status != AssignmentStatus.SIGNED:
        raise Conflict(f"the assignment of {a.department_code} is {a.status}; sign for it "
                       "before completing")
    # The photos and the place are checked before anything changes.
    reported = attachments.evidence(c.session, c.ticket, c.actor, c.payload)
    a.status = AssignmentStatus.COMPLETED
    a.completed_at = c.now
    a.result = c.payload.result
    return Step(_moves_ticket(a, S.COMPLETED), {
        **_assignment_payload(a), "result": c.payload.result,
        "on_time": c.now <= a.complete_deadline, **reported,
    })


def _review_accept(c: Context) -> Step:
    t = c.ticket
    _close_round(t, c.now)
    deadline = deadline_after(c.session, c.now, getattr(c.limits.callback, t.urgency))
    t.callback_deadline = deadline.at
    return Step(S.REVIEWED, {"callback_deadline": deadline.at.isoformat(),
                             "callback_needed": needs_callback(t)})


def _review_reject(c: Context) -> Step:
    a = lead_assignment(c.ticket)
    assert a is not None and a.status == AssignmentStatus.COMPLETED
    a.status = AssignmentStatus.SIGNED
    a.completed_at = None
    return Step(S.SIGNED, _assignment_payload(a))


def _callback(c: Context) -> Step:
    p, t = c.payload, c.ticket
    if not p.reached:
        t.callback_attempts += 1
        payload = {"reached": False, "attempt": t.callback_attempts, "via": p.via}
        if t.callback_attempts >= c.limits.callback_max_attempts:
            return Step(S.ARCHIVED, {**payload, "unreachable": True}, Outcome.UNREACHABLE)
        return Step(SAME, payload)
    if p.satisfaction is None:
        raise InvalidInput("satisfaction: is required when the citizen was reached",
                           field="satisfaction")
    if p.resolved is None:
        raise InvalidInput("resolved: is required when the citizen was reached",
                           field="resolved")
    t.satisfaction, t.resolved = p.satisfaction, p.resolved
    payload = {"reached": True, "satisfaction": p.satisfaction, "resolved": p.resolved,
               "via": p.via}
    if p.resolved and p.satisfaction != Satisfaction.DISSATISFIED:
        return Step(S.ARCHIVED, payload, Outcome.CALLBACK)
    t.supervised = True
    return Step(S.REOPENED, {**payload, "previous_lead": _previous_lead(t)})


def _extension(c: Context, ext_id: int | None) -> Extension:
    pending = [e for e in c.ticket.extensions if e.status == "pending"]
    if ext_id is not None:
        pending = [e for e in pending if e.id == ext_id]
        if not pending:
            raise InvalidInput(f"extension_id: no pending extension request {ext_id}",
                               field="extension_id")
    if not pending:
        raise Conflict(f"ticket {c.ticket.number} has no pending extension request")
    if len(pending) > 1:
        raise InvalidInput("extension_id: several requests are pending; name one",
                           field="extension_id")
    return pending[0]


def _request_extension(c: Context) -> Step:
    a, p = own_assignment(c), c.payload
    if a.status not in (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED):
        raise Conflict(f"the assignment of {a.department_code} is {a.status}")
    if c.now >= a.complete_deadline:
        raise Conflict("the completion deadline has passed; an extension must be asked "
                       "for before it")
    if p.days > c.limits.max_extension_days:
        raise InvalidInput(f"days: at most {c.limits.max_extension_days} working days",
                           field="days")
    if a.extensions_used >= c.limits.max_extensions:
        raise Conflict(f"this assignment already had {a.extensions_used} extensions, "
                       f"the most allowed")
    if any(e.status == "pending" and e.assignment_id == a.id for e in c.ticket.extensions):
        raise Conflict("an extension request for this assignment is already pending")
    ext = Extension(ticket=c.ticket, assignment_id=a.id, status="pending", days=p.days,
                    reason=p.reason, requested_at=c.now, requested_by_id=c.actor.id,
                    old_deadline=a.complete_deadline)
    c.session.add(ext)
    c.session.flush()
    return Step(SAME, {**_assignment_payload(a), "extension_id": ext.id, "days": p.days})


def _approve_extension(c: Context) -> Step:
    ext = _extension(c, c.payload.extension_id)
    days = c.payload.days or ext.days
    if days > ext.days:
        raise InvalidInput(f"days: the request asked for {ext.days} working days",
                           field="days")
    a = c.session.get(Assignment, ext.assignment_id)
    assert a is not None
    if a.status not in (AssignmentStatus.DISPATCHED, AssignmentStatus.SIGNED):
        raise Conflict(f"the assignment of {a.department_code} is {a.status}")
    if a.extensions_used >= c.limits.max_extensions:
        raise Conflict("this assignment already had the most extensions allowed")
    moved = add_working_days(c.session, a.complete_deadline, days)
    ext.status, ext.decided_at, ext.decided_by_id = "approved", c.now, c.actor.id
    ext.days, ext.new_deadline = days, moved.at
    ext.decision_reason = c.payload.reason
    a.complete_deadline = moved.at
    a.complete_warn_at = warning_time(a.dispatched_at, moved.at, c.limits.warning_ratio)
    _rearm_completion_clock(a)
    a.deadline_provisional = a.deadline_provisional or moved.provisional
    a.extensions_used += 1
    return Step(SAME, {**_assignment_payload(a), "extension_id": ext.id, "days": days,
                       "old_deadline": ext.old_deadline.isoformat(),
                       "new_deadline": moved.at.isoformat()})


def _rearm_completion_clock(a: Assignment) -> None:
    # A moved completion deadline is a new clock: its warning and overdue fire again
    # (dispatch.tickets.sweeps fires only steps whose mark is NULL).
    a.complete_warned_at = None
    a.complete_overdue_at = None


def _refuse_extension(c: Context) -> Step:
    ext = _extension(c, c.payload.extension_id)
    ext.status, ext.decided_at, ext.decided_by_id = "refused", c.now, c.actor.id
    ext.decision_reason = c.payload.reason
    return Step(SAME, {"extension_id": ext.id})


def _urge(c: Context) -> Step:
    lead = lead_assignment(c.ticket)
    return Step(SAME, {"department": lead.department_code if lead else None})


def _supervise(c: Context) -> Step:
    days = c.payload.days or c.limits.supervision_days
    deadline = add_working_days(c.session, c.now, days)
    c.ticket.supervised = True
    c.ticket.supervise_deadline = deadline.at
    return Step(SAME, {"deadline": deadline.at.isoformat(), "days": days,
                       "deadline_provisional": deadline.provisional})


def _note(c: Context) -> Step:
    # Progress on site: the text, and the photos and place when given (linked on flush).
    return Step(SAME, {"text": c.payload.text,
                       **attachments.evidence(c.session, c.ticket, c.actor, c.payload)})


def _call_transfer(c: Context) -> Step:
    return Step(SAME, {"kind": c.payload.kind, "to": c.payload.to})


def _police_accept(c: Context) -> Step:
    t = c.ticket
    t.police_state = "accepted"
    if c.payload.incident_no and t.external_ref is None:
        t.external_ref = c.payload.incident_no
    return Step(SAME, {"incident_no": c.payload.incident_no})


def _police_reject(c: Context) -> Step:
    c.ticket.police_state = "rejected"
    c.ticket.police_cause = c.payload.reason
    return Step(S.NEW, {"cause": c.payload.reason})


def _police_complete(c: Context) -> Step:
    c.ticket.police_state = "completed"
    return Step(S.ARCHIVED, {"result": c.payload.result}, Outcome.HANDLED_BY_110)


def _recompute_deadlines(c: Context) -> Step:
    changed = []
    for a in c.ticket.assignments:
        if a.status not in HANDLING_ASSIGNMENT or not a.deadline_provisional:
            continue
        sign = deadline_after(c.session, a.dispatched_at, Limit.model_validate(a.sign_limit))
        done = deadline_after(c.session, a.dispatched_at,
                              Limit.model_validate(a.complete_limit))
        at, provisional = done.at, sign.provisional or done.provisional
        approved = [e for e in c.ticket.extensions
                    if e.assignment_id == a.id and e.status == "approved"]
        for ext in sorted(approved, key=lambda e: (e.decided_at, e.id)):
            moved = add_working_days(c.session, at, ext.days)
            at, provisional = moved.at, provisional or moved.provisional
        old = a.complete_deadline
        a.sign_deadline = sign.at
        a.sign_warn_at = warning_time(a.dispatched_at, sign.at, c.limits.warning_ratio)
        a.complete_deadline = at
        a.complete_warn_at = warning_time(a.dispatched_at, at, c.limits.warning_ratio)
        if at != old:
            _rearm_completion_clock(a)
        a.deadline_provisional = provisional
        changed.append({**_assignment_payload(a), "old_deadline": old.isoformat(),
                        "new_deadline": at.isoformat(), "provisional": provisional})
    return Step(SAME, {"assignments": changed})


def recompute_provisional_deadlines(session: Session, now: datetime,
                                    directory: Directory) -> list[Event]:
    """After the calendar changed: recompute every open deadline that was provisional."""
    tickets = session.scalars(select(Ticket).where(Ticket.id.in_(
        select(Assignment.ticket_id).where(
            Assignment.deadline_provisional.is_(True),
            Assignment.status.in_(HANDLING_ASSIGNMENT))
    )).order_by(Ticket.id)).all()
    events: list[Event] = []
    for ticket in tickets:
        events += perform(session, ticket, "recompute_deadlines", SYSTEM, NoPayload(),
                          now=now, directory=directory).events
    return events


HANDLERS: dict[str, Callable[[Context], Step]] = {
    "answer": _answer,
    "dispatch": _dispatch,
    "transfer_110": _transfer_110,
    "merge": _merge,
    "void": _void,
    "sign": _sign,
    "return": _return,
    "complete": _complete,
    "review_accept": _review_accept,
    "review_reject": _review_reject,
    "callback": _callback,
    "request_extension": _request_extension,
    "approve_extension": _approve_extension,
    "refuse_extension": _refuse_extension,
    "urge": _urge,
    "supervise": _supervise,
    "note": _note,
    "call_transfer": _call_transfer,
    "relocate": _relocate,
    "police_accept": _police_accept,
    "police_reject": _police_reject,
    "police_complete": _police_complete,
    "recompute_deadlines": _recompute_deadlines,
    "raise_alarm": _raise_alarm,
    "acknowledge_alarm": _acknowledge_alarm,
    "escalate_alarm": _escalate_alarm,
    "take_back": _take_back,
}
