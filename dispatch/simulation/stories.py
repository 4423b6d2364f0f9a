"""The stories of simulated tickets: what happens to each after intake, step by step, as the
users whose job it is, with the waits between the steps drawn from `Parameters`."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from datetime import datetime, timedelta
from typing import Any

from dispatch.core.actors import SYSTEM
from dispatch.core.commands import (
    AnswerPayload,
    CallTransferPayload,
    CompletePayload,
    DecideLeadPayload,
    DelegatedRejectPayload,
    DelegatedReviewPayload,
    DelegatePayload,
    DispatchPayload,
    ExtensionDecisionPayload,
    ExtensionRefusalPayload,
    ExtensionRequestPayload,
    MergePayload,
    NoPayload,
    NotePayload,
    PoliceAcceptPayload,
    PoliceCompletePayload,
    ReasonRequired,
    SuspendDecisionPayload,
    SuspendRefusalPayload,
    SuspendRequestPayload,
    Transfer110Payload,
)
from dispatch.core.models import (
    Assignment,
    Ticket,
)
from dispatch.core.settings import get_triage_settings
from dispatch.core.vocab import (
    CLOSED_STATES,
    AssignmentStatus,
    Channel,
    DelegationStatus,
    RequestType,
    Role,
    Status,
    Urgency,
)
from dispatch.simulation.aftercare import Aftercare
from dispatch.simulation.clockwork import Case
from dispatch.simulation.parameters import HANDLING
from dispatch.simulation.words import (
    ANSWER,
    DECIDE_REASONS,
    EXTENSION_REASONS,
    RESULTS,
    RETURN_REASONS,
    REVIEW_REJECTS,
    SITE_NOTES,
    SUSPEND_REASONS,
    VOID_REASONS,
)
from dispatch.simulation.world import (
    POLICE_DESK,
    SimulationError,
)
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.lifecycle import Actor, lead_assignment, ticket_location
from dispatch.tickets.lifecycle.dispute import final_lead_refusal, lead_returns
from dispatch.tickets.lifecycle.suspension import resume_time


class Stories(Aftercare):
    """The life of each ticket after intake: void, direct answer, 110, or handling (dispatch,
    sign-for, returns, extensions, completion, review, callback), as the users whose job it
    is."""

    def _story(self, case: Case) -> Iterator[float | datetime]:
        """The life of a ticket after intake."""
        p, rng, t = self.p, self.rng, case.ticket
        try:
            if case.path == "void":
                yield self._minutes(p.desk_minutes)
                self.act(
                    t, "void", self._operator(), ReasonRequired(reason=rng.choice(VOID_REASONS))
                )
                return
            if case.path == "answer":
                yield self._minutes(p.desk_minutes)
                self.act(t, "answer", self._operator(), AnswerPayload(answer=ANSWER))
                return
            if case.path == "police":
                handled = yield from self._police(case)
                if handled:
                    return
            if case.parent is not None:
                yield self._minutes(p.dispatch_minutes)
                parent = case.parent.ticket
                if (
                    t.status == Status.NEW
                    and parent.status not in CLOSED_STATES
                    and not t.children
                    and parent.parent_id is None
                ):
                    self.act(
                        t,
                        "merge",
                        self._dispatcher(),
                        MergePayload(parent=parent.number, reason="重复诉求，并单处理"),
                    )
                    return
                self._remember(case)
            yield from self._handle(case)
        finally:
            self._forget(case)

    def _police(self, case: Case) -> Generator[float, None, bool]:
        """A police matter: out to 110, which accepts and handles it, or rejects it back."""
        p, rng, t = self.p, self.rng, case.ticket
        operator = self._operator()
        yield self._minutes(p.desk_minutes)
        if t.channel == Channel.PHONE and rng.random() < p.call_transfer_share:
            self.act(
                t,
                "call_transfer",
                operator,
                CallTransferPayload(kind="one_key", to="110", reason="涉警事项，一键转110"),
            )
        self.act(t, "transfer_110", operator, Transfer110Payload(reason="涉警事项，转110处置"))
        yield self._minutes(p.police_answer_minutes)
        if rng.random() < p.police_reject_share:
            self.act(
                t, "police_reject", POLICE_DESK, ReasonRequired(reason="非警情，请12345按职责办理")
            )
            case.path = "handle"
            self._remember(case)
            return False
        self.act(t, "police_accept", POLICE_DESK, PoliceAcceptPayload(incident_no=self._incident()))
        yield p.police_handling.draw(rng)
        self.act(
            t, "police_complete", POLICE_DESK, PoliceCompletePayload(result="110已出警处置完毕")
        )
        return True

    def _alarm(self, t: Ticket) -> Iterator[float | datetime]:
        """The console's alarm of an emergency: a dispatcher acknowledges it; one left more
        than the setting's seconds is escalated to the supervisors first (the alarm sweep)."""
        wait = self.p.alarm_ack_seconds.draw(self.rng)
        limit = get_triage_settings(self.session).alarm_escalation_seconds
        if wait > limit:
            yield limit / 3600
            if t.status not in CLOSED_STATES and t.alarm_acknowledged_at is None:
                self.act(t, "escalate_alarm", SYSTEM, NoPayload())
            wait -= limit
        yield wait / 3600
        if t.status not in CLOSED_STATES and t.alarm_acknowledged_at is None:
            self.act(t, "acknowledge_alarm", self._dispatcher(), NoPayload())

    def _handle(self, case: Case) -> Iterator[float | datetime]:
        """Dispatch, handling (returns, extensions, lateness), review and callback; again
        after a reopen."""
        p, rng, t = self.p, self.rng, case.ticket
        while True:
            case.rounds += 1
            yield self._minutes(p.dispatch_minutes)
            if case.auto_dispatched and case.rounds == 1:
                if rng.random() < p.take_back_share:  # not for the system: back to the desk
                    self.act(t, "take_back", self._dispatcher(), NoPayload())
                    self._dispatch(case)
            else:
                self._dispatch(case)
            returns = 0
            while True:
                lead = lead_assignment(t)
                assert lead is not None
                assignee = self._assignee(lead)
                delegating = self._delegates(lead)
                if delegating:  # the office's handler signs for it, to pass it down
                    assignee = rng.choice(self.world.staff.handlers[lead.department_code])
                for co in [a for a in t.assignments if a.role == "co" and a.closed_at is None]:
                    self._advance(self._co_story(case, co))
                again = p.return_share if returns == 0 else p.return_again_share
                if (returns < p.max_returns and rng.random() < again
                        and final_lead_refusal(t, lead) is None):
                    returns += 1
                    yield self._office(p.sign[case.urgency].draw(rng), case.urgency)
                    if rng.random() >= p.return_before_sign_share:
                        self.act(t, "sign", assignee, NoPayload())
                        yield self._office(rng.uniform(0.5, 8.0), case.urgency)
                    self.act(
                        t, "return", assignee, ReasonRequired(reason=rng.choice(RETURN_REASONS))
                    )
                    if t.disputed_at is not None:  # returned twice: the office's 定责
                        yield self._office(p.decide_hours.draw(rng))
                        self._decide(case)
                        returns = p.max_returns  # the decision is final
                        continue
                    yield self._minutes(p.dispatch_minutes)
                    self._redispatch(case, lead.department_code)
                    continue
                yield self._office(p.sign[case.urgency].draw(rng), case.urgency)
                self.act(t, "sign", assignee, NoPayload())
                break
            yield from self._work(case, lead, assignee, delegating)
            while True:
                yield self._office(p.review_hours.draw(rng), case.urgency)
                if rng.random() < p.review_reject_share:
                    self.act(
                        t,
                        "review_reject",
                        self._dispatcher(),
                        ReasonRequired(reason=rng.choice(REVIEW_REJECTS)),
                    )
                    yield self._office(p.rework_hours.draw(rng), case.urgency)
                    self.act(t, "complete", assignee, self._result(t, assignee))
                    continue
                self.act(t, "review_accept", self._dispatcher(), NoPayload())
                break
            if t.status != Status.REVIEWED:
                return  # archived at once: nobody to call back
            yield from self._callback(case)
            if t.status != Status.REOPENED:
                return

    def _dispatch(self, case: Case) -> None:
        t = case.ticket
        fields: dict[str, Any] = {}
        ports = None
        if not case.classified:  # the dispatcher classifies what a channel left open
            fields = {
                "category": case.category,
                "type": RequestType(case.type),
                "urgency": Urgency(case.urgency),
            }
            case.classified = True
            ports = self.ports_for(self.session, self.now)
            routing = ports.router.route(case.category, ticket_location(t))
            if routing.lead is None:
                fields["lead"] = self._territorial(t)
        elif t.status != Status.REOPENED and not (t.routing or {}).get("lead"):
            fields["lead"] = self._territorial(t)
        self.act(t, "dispatch", self._dispatcher(), DispatchPayload(**fields), ports=ports)

    def _redispatch(self, case: Case, returned_by: str) -> None:
        t, rng = case.ticket, self.rng
        lead = returned_by
        if rng.random() >= self.p.return_same_share:
            office = self._territorial(t)
            suggested = (t.routing or {}).get("lead")
            choices = [
                c for c in (office, suggested, self.world.fallback_lead) if c and c != returned_by
            ]
            lead = choices[0] if choices else returned_by
        self.act(
            t,
            "dispatch",
            self._dispatcher(),
            DispatchPayload(
                lead=lead,
                reason="退单改派" if lead != returned_by else "经核实属于贵单位职责，请继续办理",
            ),
        )

    def _decide(self, case: Case) -> None:
        """定责 by the hotline office: one of the departments that returned it leads; each
        return judged unfounded or not."""
        p, rng, t = self.p, self.rng, case.ticket
        returners = list(dict.fromkeys(a.department_code for a in lead_returns(t)))
        lead = rng.choice(returners) if returners else self._territorial(t)
        unfounded = [c for c in returners if rng.random() < p.unfounded_share]
        self.act(t, "decide_lead", self._office_staff(),
                 DecideLeadPayload(lead=lead, reason=rng.choice(DECIDE_REASONS),
                                   unfounded=unfounded))

    def _office_staff(self) -> Actor:
        """Who acts for the hotline office (定责, publication, appeals): a supervisor."""
        staff = self.world.staff
        return self.rng.choice(staff.supervisors) if staff.supervisors else self._dispatcher()

    def _territorial(self, t: Ticket) -> str:
        return self.world.offices.get(t.street_code or "", self.world.fallback_lead)

    def _assignee(self, a: Assignment) -> Actor:
        """Who works an assignment: its grid worker (mostly) or a handler of the department."""
        staff = self.world.staff
        if (
            a.grid_worker_id is not None
            and a.grid_worker_id in staff.workers
            and self.rng.random() < 0.8
        ):
            return staff.workers[a.grid_worker_id]
        handlers = staff.handlers.get(a.department_code)
        if not handlers:
            raise SimulationError(
                f"department {a.department_code} has no handler: run ensure_handlers first"
            )
        return self.rng.choice(handlers)

    def _result(self, t: Ticket, actor: Actor) -> CompletePayload:
        text = self.rng.choice(RESULTS)
        if actor.role == Role.GRID_WORKER and t.lon is not None and t.lat is not None:
            return CompletePayload(result=text, lon=t.lon, lat=t.lat)
        return CompletePayload(result=text)

    def _work(self, case: Case, lead: Assignment, assignee: Actor,
              delegating: bool = False) -> Iterator[float | datetime]:
        """From signing to completion: on time, late, extended or a long hard case; passed
        down (下派) by a street office, or with the clock suspended (挂起) for a while."""
        p, rng, t = self.p, self.rng, case.ticket
        below = self._below(lead) if delegating else None
        if below is not None:
            yield from self._delegated(case, lead, assignee, below)
            return
        u = rng.random()
        kind = (
            "hard"
            if u < p.hard_share
            else "late"
            if u < p.hard_share + p.late_share
            else "extend"
            if u < p.hard_share + p.late_share + p.extension_share
            else "normal"
        )
        if case.rounds > 1 and kind == "hard":
            kind = "normal"
        key = (
            case.urgency
            if case.urgency != Urgency.NORMAL
            else (
                "normal_short"
                if case.type in (RequestType.CONSULT, RequestType.HELP, RequestType.PRAISE)
                else "normal_long"
            )
        )
        target = self.now + timedelta(hours=p.complete[key].draw(rng))
        if kind in ("late", "extend"):  # more time than the clock gives
            target = lead.complete_deadline + timedelta(hours=p.late_by.draw(rng))
        elif kind == "hard":
            target = self.now + timedelta(days=p.hard_days.draw(rng))
        if assignee.role == Role.GRID_WORKER and rng.random() < p.site_note_share:
            yield min(target, self.now + timedelta(hours=rng.uniform(0.5, 6)))
            if t.status == Status.SIGNED:
                self.act(
                    t,
                    "note",
                    assignee,
                    NotePayload(text=rng.choice(SITE_NOTES), lon=t.lon, lat=t.lat),
                )
        asks = 2 if kind == "hard" else 1 if kind == "extend" else 0
        for _ in range(asks):
            deadline = lead.complete_deadline
            if target <= deadline or lead.extensions_used >= self._max_extensions:
                break
            ask_at = self.now + (deadline - self.now) * rng.uniform(0.5, 0.9)
            yield ask_at
            if self.now >= lead.complete_deadline or t.status != Status.SIGNED:
                break
            days = rng.randint(*p.extension_days)
            self.act(
                t,
                "request_extension",
                assignee,
                ExtensionRequestPayload(days=days, reason=rng.choice(EXTENSION_REASONS)),
            )
            yield self._office(p.decision_hours.draw(rng))
            if rng.random() < p.extension_approve_share:
                self.act(t, "approve_extension", self._dispatcher(), ExtensionDecisionPayload())
                if kind == "extend":  # mostly done within the new deadline
                    span = (lead.complete_deadline - deadline).total_seconds()
                    target = deadline + timedelta(seconds=span * rng.uniform(0.1, 1.05))
            else:
                self.act(
                    t,
                    "refuse_extension",
                    self._dispatcher(),
                    ExtensionRefusalPayload(reason="事项较简单，请按时办结"),
                )
        if kind == "normal" and rng.random() < p.suspend_share:
            target = yield from self._suspend(case, lead, assignee, target)
        yield max(target, self.now + timedelta(minutes=10))
        self.act(t, "complete", assignee, self._result(t, assignee))

    def _suspend(self, case: Case, lead: Assignment, assignee: Actor,
                 target: datetime) -> Generator[float | datetime, None, datetime]:
        """挂起: the assignee asks to stop the clock until a date; a dispatcher approves or
        refuses; the assignee resumes early, or the sweep at the end date. The completion
        target moves by the time the work stood."""
        p, rng, t = self.p, self.rng, case.ticket
        ask_at = self.now + (target - self.now) * rng.uniform(0.1, 0.5)
        yield ask_at

        def in_hand() -> bool:
            return (t.status == Status.SIGNED and lead.closed_at is None
                    and lead.status == AssignmentStatus.SIGNED
                    and lead.suspended_until is None and self.now < lead.complete_deadline)

        if not in_hand():
            return target
        until = self.now.astimezone(LOCAL_TZ).date() + timedelta(days=rng.randint(*p.suspend_days))
        self.act(t, "request_suspend", assignee,
                 SuspendRequestPayload(reason=rng.choice(SUSPEND_REASONS), until=until))
        yield self._office(p.decision_hours.draw(rng))
        late = resume_time(until) <= self.now + timedelta(hours=2)  # decided too late for it
        if not in_hand() or late or rng.random() >= p.suspend_approve_share:
            self.act(t, "refuse_suspend", self._dispatcher(),
                     SuspendRefusalPayload(reason="可边办理边补充材料，请按时办结"))
            return target
        self.act(t, "approve_suspend", self._dispatcher(), SuspendDecisionPayload())
        stopped, ends = self.now, resume_time(until)
        if rng.random() < p.resume_early_share:
            yield self.now + (ends - self.now) * rng.uniform(0.2, 0.8)
            if t.status == Status.SIGNED and lead.suspended_until is not None:
                self.act(t, "resume", assignee, NoPayload())
        else:  # the sweep resumes it at the end date
            self._plan_sweep(ends - timedelta(seconds=1))
            yield ends + timedelta(minutes=rng.uniform(30, 240))
        return target + (self.now - stopped)

    def _delegates(self, lead: Assignment) -> bool:
        """Whether a street office with levels below passes this assignment down (下派)."""
        world = self.world
        office = lead.department_code
        if lead.role != "lead" or not world.staff.handlers.get(office) or (
                office not in world.below and office not in world.crew):
            return False
        return self.rng.random() < self.p.delegate_share

    def _below(self, lead: Assignment) -> Actor | str | None:
        """Whom a street office's handler passes its signed assignment down to: a grid worker
        of its subtree (the cell's, when it has one), or one of its communities or villages
        (the cell's worker's, when it has one)."""
        p, rng, world = self.p, self.rng, self.world
        office = lead.department_code
        workers = world.staff.workers
        cell_worker = workers.get(lead.grid_worker_id) if lead.grid_worker_id else None
        crew = world.crew.get(office, ())
        if crew and (rng.random() < p.delegate_worker_share or office not in world.below):
            if cell_worker is not None and lead.grid_worker_id in crew:
                return cell_worker
            return workers[rng.choice(crew)]
        communities = world.below.get(office, ())
        if cell_worker is not None and cell_worker.department_code in communities:
            return cell_worker.department_code
        return rng.choice(communities) if communities else None

    def _delegated(self, case: Case, lead: Assignment, holder: Actor,
                   below: Actor | str) -> Iterator[float | datetime]:
        """下派 and 镇审核: the office's handler passes the step down; the community's handler
        or the grid worker signs for and completes it; the office reviews (rejecting it once
        now and then) and its accepted review completes the assignment."""
        p, rng, t = self.p, self.rng, case.ticket
        yield self._office(rng.uniform(0.2, 3.0), case.urgency)
        if t.status != Status.SIGNED or lead.closed_at is not None:
            return
        if isinstance(below, str):
            to, actor = below, rng.choice(self.world.staff.handlers[below])
        else:
            to, actor = below.username or "", below
        self.act(t, "delegate", holder, DelegatePayload(to=to, reason="请属地核实处理"))
        step = next(d for d in reversed(t.delegations)
                    if d.assignment_id == lead.id and d.status == DelegationStatus.DISPATCHED)
        yield self._office(p.sign[case.urgency].draw(rng), case.urgency)
        self.act(t, "sign", actor, NoPayload())
        key = "normal_short" if case.urgency == Urgency.NORMAL else case.urgency
        work = min(self.now + timedelta(hours=p.complete[key].draw(rng)),
                   step.complete_deadline - timedelta(minutes=rng.uniform(10, 120)))
        yield max(work, self.now + timedelta(minutes=10))
        self.act(t, "complete", actor, self._result(t, actor))
        rejected = False
        while True:
            yield self._office(p.review_hours.draw(rng), case.urgency)
            if not rejected and rng.random() < p.delegated_reject_share:
                rejected = True
                self.act(t, "review_delegated_reject", holder,
                         DelegatedRejectPayload(reason=rng.choice(REVIEW_REJECTS)))
                yield self._office(p.rework_hours.draw(rng), case.urgency)
                self.act(t, "complete", actor, self._result(t, actor))
                continue
            self.act(t, "review_delegated_accept", holder, DelegatedReviewPayload())
            return

    def _co_story(self, case: Case, a: Assignment) -> Iterator[float | datetime]:
        """A co-handler signs and reports its part before the lead, when it gets to it."""
        p, rng, t = self.p, self.rng, case.ticket
        if rng.random() >= p.co_sign_share:
            return
        handlers = self.world.staff.handlers.get(a.department_code)
        if not handlers:
            return
        actor = rng.choice(handlers)
        yield self._office(p.sign[case.urgency].draw(rng), case.urgency)
        if (
            a.closed_at is not None
            or a.status != AssignmentStatus.DISPATCHED
            or t.status not in HANDLING
        ):
            return
        self.act(t, "sign", actor, NoPayload())
        if rng.random() >= p.co_complete_share:
            return
        yield self._office(p.complete["normal_short"].draw(rng) / 2, case.urgency)
        if (
            a.closed_at is not None
            or a.status != AssignmentStatus.SIGNED
            or t.status not in HANDLING
        ):
            return
        self.act(t, "complete", actor, CompletePayload(result="协办部分已办理完毕"))
