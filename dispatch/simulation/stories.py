"""The stories of simulated tickets: what happens to each after intake, step by step, as the
users whose job it is, with the waits between the steps drawn from `Parameters`. Who gets
the work is chosen in `dispatching`; the work itself is done in `handling`."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from datetime import datetime

from dispatch.core.actors import SYSTEM
from dispatch.core.commands import (
    AnswerPayload,
    CallTransferPayload,
    MergePayload,
    NoPayload,
    PoliceAcceptPayload,
    PoliceCompletePayload,
    ReasonRequired,
    Transfer110Payload,
)
from dispatch.core.models import Ticket
from dispatch.core.settings import get_triage_settings
from dispatch.core.vocab import CLOSED_STATES, Channel, Status
from dispatch.simulation.clockwork import Case
from dispatch.simulation.handling import Handling
from dispatch.simulation.words import ANSWER, RETURN_REASONS, REVIEW_REJECTS, VOID_REASONS
from dispatch.simulation.world import POLICE_DESK
from dispatch.tickets.lifecycle import lead_assignment
from dispatch.tickets.lifecycle.dispute import final_lead_refusal


class Stories(Handling):
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

