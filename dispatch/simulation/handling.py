"""A simulated assignment's work from signing to completion: on time, late, extended, a long
hard case or with the clock suspended (挂起); passed down (下派) by a street office and
reviewed by it (镇审核); a co-handler's part."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from datetime import datetime, timedelta

from dispatch.core.commands import (
    CompletePayload,
    DelegatedRejectPayload,
    DelegatedReviewPayload,
    DelegatePayload,
    ExtensionDecisionPayload,
    ExtensionRefusalPayload,
    ExtensionRequestPayload,
    NoPayload,
    NotePayload,
    SuspendDecisionPayload,
    SuspendRefusalPayload,
    SuspendRequestPayload,
)
from dispatch.core.models import Assignment, Ticket
from dispatch.core.vocab import (
    AssignmentStatus,
    DelegationStatus,
    RequestType,
    Role,
    Status,
    Urgency,
)
from dispatch.simulation.clockwork import Case
from dispatch.simulation.dispatching import Dispatching
from dispatch.simulation.parameters import HANDLING
from dispatch.simulation.words import (
    EXTENSION_REASONS,
    RESULTS,
    REVIEW_REJECTS,
    SITE_NOTES,
    SUSPEND_REASONS,
)
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.lifecycle import Actor
from dispatch.tickets.lifecycle.suspension import resume_time


class Handling(Dispatching):
    """The assignee's work on a signed assignment, and the co-handlers'."""

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
