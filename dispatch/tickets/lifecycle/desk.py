"""The hotline desk's actions (operators, dispatchers, supervisors): answer, dispatch, relocate,
take back, merge, void, review, callback, urge, supervise, notes. What goes to and comes from
110, and the emergency alarms, are in `police`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from dispatch.core.commands import AutoDispatchPayload
from dispatch.core.errors import Conflict, Forbidden, InvalidInput
from dispatch.core.memo import memo
from dispatch.core.models import Ticket, User
from dispatch.core.ports import Location
from dispatch.core.vocab import (
    CLOSED_STATES,
    AssignmentStatus,
    Outcome,
    Satisfaction,
)
from dispatch.intake.repeats import category_tree
from dispatch.tickets import attachments
from dispatch.tickets.access import can_see
from dispatch.tickets.clocks import (
    add_working_days,
    deadline_after,
)
from dispatch.tickets.lifecycle.assignments import (
    assignment_payload,
    close_assignment,
    close_round,
    is_open,
    lead_assignment,
    needs_callback,
    start_assignment,
)
from dispatch.tickets.lifecycle.context import (
    Context,
    Step,
)
from dispatch.tickets.lifecycle.locks import (
    lock_ticket,
)
from dispatch.tickets.lifecycle.table import (
    SAME,
    R,
    S,
)
from dispatch.tickets.lifecycle.write import (
    write_change,
)
from dispatch.triage import knowledge


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
        raise InvalidInput("article_id: 给了 article_version 就须同时给出知识库条目编号",
                           field="article_id")
    return Step(S.ARCHIVED, payload, Outcome.DIRECT_ANSWER)


def _department(c: Context, code: str, field_name: str) -> str:
    dept = c.directory.department(code)
    if dept is None or not dept.active:
        raise InvalidInput(f"{field_name}: 没有启用中的部门“{code}”", field=field_name)
    return dept.code


def _previous_lead(ticket: Ticket) -> str | None:
    leads = [a for a in ticket.assignments if a.role == "lead"]
    return leads[-1].department_code if leads else None


def _dispatch(c: Context) -> Step:
    p, t = c.payload, c.ticket
    if p.category is not None:
        category = category_tree(c.session).get(p.category)
        if category is None or not category[1]:
            raise InvalidInput(f"category: 没有启用中的分类“{p.category}”", field="category")
        if p.category != t.category_code and p.lead is None:
            # The suggested lead was for the old category: route the new one.
            t.routing = c.ports.router.route(p.category, ticket_location(t)).as_dict()
        t.category_code = p.category
    if p.type is not None:
        t.type = p.type
    if p.urgency is not None:
        t.urgency = p.urgency
    if t.type is None:
        raise InvalidInput("type: 派单前须先确定诉求类型", field="type")
    if t.category_code is None:
        raise InvalidInput("category: 派单前须先确定诉求分类",
                           field="category")
    routing = t.routing or {}
    suggested = routing.get("lead")
    lead_code = p.lead or (_previous_lead(t) if t.status == S.REOPENED else None) or suggested
    if lead_code is None:
        raise InvalidInput("lead: 须指定主办单位", field="lead")
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
        raise InvalidInput("co_handlers: 每个协办单位只能出现一次，且不能与主办单位重复",
                           field="co_handlers")
    worker = None
    if worker_name is not None:
        worker = memo(c.session, ("user", worker_name), (User,), lambda: c.session.scalar(
            select(User).where(User.username == worker_name)))
        if worker is None or worker.role != R.GRID_WORKER or not worker.active:
            raise InvalidInput(f"grid_worker: 没有在岗的网格员“{worker_name}”",
                               field="grid_worker")
    close_round(t, c.now)
    made = [start_assignment(c, lead, "lead", worker)]
    made += [start_assignment(c, code, "co", None) for code in co]
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
        raise InvalidInput(f"{missing}: lon 和 lat 须同时提供或都不提供", field=missing)
    if p.lon is None and p.address is None:
        raise InvalidInput("address: 须提供 lon 和 lat，或提供地址", field="address")
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
        close_assignment(a, AssignmentStatus.CANCELLED, c.now)
    return Step(S.NEW, {"department": lead.department_code, "auto_dispatched": True,
                        "assignment_ids": [a.id for a in taken],
                        "signed": lead.signed_at is not None})


def _merge(c: Context) -> Step:
    t = c.ticket
    parent = c.session.scalar(select(Ticket).where(Ticket.number == c.payload.parent))
    if parent is None or not can_see(c.session, c.actor, parent):
        raise InvalidInput(f"parent: 没有编号为“{c.payload.parent}”的工单", field="parent")
    if parent.id == t.id:
        raise InvalidInput("parent: 工单不能并入自身", field="parent")
    lock_ticket(c.session, parent)
    if parent.status in CLOSED_STATES:
        raise Conflict(f"工单 {parent.number} 已结束（{{status}}），请并入未结束的工单",
                       terms={"status": ("status", parent.status)})
    if t.children:
        raise Conflict(f"工单 {t.number} 已有其他工单并入，不能再并入别的工单")
    t.parent = parent
    write_change(c, parent, "note", Step(SAME, {"repeat_linked": t.number}),
                 reason="重复诉求已并入本工单")
    return Step(S.MERGED, {"parent": parent.number})


def _void(c: Context) -> Step:
    if c.ticket.children:
        raise Conflict(f"工单 {c.ticket.number} 已有其他工单并入，不能作废")
    return Step(S.VOID)


def _review_accept(c: Context) -> Step:
    t = c.ticket
    close_round(t, c.now)
    deadline = deadline_after(c.session, c.now, getattr(c.limits.callback, t.urgency))
    t.callback_deadline = deadline.at
    return Step(S.REVIEWED, {"callback_deadline": deadline.at.isoformat(),
                             "callback_needed": needs_callback(t)})


def _review_reject(c: Context) -> Step:
    a = lead_assignment(c.ticket)
    assert a is not None and a.status == AssignmentStatus.COMPLETED
    a.status = AssignmentStatus.SIGNED
    a.completed_at = None
    return Step(S.SIGNED, assignment_payload(a))


def _callback(c: Context) -> Step:
    p, t = c.payload, c.ticket
    if not p.reached:
        t.callback_attempts += 1
        payload = {"reached": False, "attempt": t.callback_attempts, "via": p.via}
        if t.callback_attempts >= c.limits.callback_max_attempts:
            return Step(S.ARCHIVED, {**payload, "unreachable": True}, Outcome.UNREACHABLE)
        return Step(SAME, payload)
    if p.satisfaction is None:
        raise InvalidInput("satisfaction: 联系上市民时须填写满意度",
                           field="satisfaction")
    if p.resolved is None:
        raise InvalidInput("resolved: 联系上市民时须填写是否已解决",
                           field="resolved")
    t.satisfaction, t.resolved = p.satisfaction, p.resolved
    payload = {"reached": True, "satisfaction": p.satisfaction, "resolved": p.resolved,
               "via": p.via}
    if p.resolved and p.satisfaction != Satisfaction.DISSATISFIED:
        return Step(S.ARCHIVED, payload, Outcome.CALLBACK)
    t.supervised = True
    return Step(S.REOPENED, {**payload, "previous_lead": _previous_lead(t)})


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


# action → its handler (the desk's part of the state table)
DESK_HANDLERS: dict[str, Callable[[Context], Step]] = {
    "answer": _answer,
    "dispatch": _dispatch,
    "merge": _merge,
    "void": _void,
    "review_accept": _review_accept,
    "review_reject": _review_reject,
    "callback": _callback,
    "urge": _urge,
    "supervise": _supervise,
    "note": _note,
    "relocate": _relocate,
    "take_back": _take_back,
}
