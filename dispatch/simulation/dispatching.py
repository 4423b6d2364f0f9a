"""Who gets a simulated ticket's work: the dispatcher's dispatch (classifying what a channel
left open) and redispatch after a return, the hotline office's 定责, and who in the
department works an assignment."""

from __future__ import annotations

from typing import Any

from dispatch.core.commands import DecideLeadPayload, DispatchPayload
from dispatch.core.models import Assignment, Ticket
from dispatch.core.vocab import RequestType, Status, Urgency
from dispatch.simulation.aftercare import Aftercare
from dispatch.simulation.clockwork import Case
from dispatch.simulation.words import DECIDE_REASONS
from dispatch.simulation.world import SimulationError
from dispatch.tickets.lifecycle import Actor, ticket_location
from dispatch.tickets.lifecycle.dispute import lead_returns


class Dispatching(Aftercare):
    """The dispatcher's and the office's choices of who handles a ticket."""

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

