"""Grid governance in a simulated history: a grid worker's patrol report (巡查上报, with
photos; fixed on the spot and reviewed, or sent up for dispatch) and the month's assessment
(考核): publication, the departments' appeals (申诉) and the office's decisions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from dispatch.core.commands import DelegatedReviewPayload, NoPayload
from dispatch.core.vocab import Channel, RequestType, Status, Urgency
from dispatch.intake.patrol import SelfHandled, TicketIntake, log_demand
from dispatch.simulation.clockwork import STEP, Case
from dispatch.simulation.stories import Stories
from dispatch.simulation.words import (
    APPEAL_DECISIONS,
    APPEAL_REASONS,
    PATROL_FINDINGS,
    PATROL_FIXES,
    weighted,
)
from dispatch.stats.assessment import deduction_tickets
from dispatch.stats.assessment_appeals import (
    appeal_deadline,
    decide_appeal,
    file_appeal,
    publications,
    publish,
)
from dispatch.tickets.attachments import add_unfiled_attachment
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.lifecycle import Actor, lead_assignment


class Governance(Stories):
    """Patrol reports and the monthly assessment with its appeals."""

    def _patrol(self) -> Iterator[float | datetime]:
        """A grid worker's patrol report (巡查上报) with a photo of the place: fixed on the
        spot (自办自结, photos before and after; the street office reviews it) or sent up for
        dispatch like any demand."""
        p, rng, world = self.p, self.rng, self.world
        yield 0.0  # taken at its time on the heap
        streets = {office: street for street, office in world.offices.items()}
        office = rng.choice(sorted(o for o in world.crew if o in streets))
        worker = world.staff.workers[rng.choice(world.crew[office])]
        spot = world.places.spot(streets[office], rng)
        tops = {c: w for c, w in p.category_mix.items()
                if c in PATROL_FINDINGS and c in world.leaves}
        top = weighted(rng, tops)
        category = rng.choice(world.leaves[top])
        fixed = rng.random() < p.patrol_self_share
        done = SelfHandled(result=rng.choice(PATROL_FIXES), before=[self._photo(worker)],
                           after=[self._photo(worker)]) if fixed else None
        data = TicketIntake(
            channel=Channel.PATROL, text=f"{spot.address}{rng.choice(PATROL_FINDINGS[top])}。",
            address=spot.address, lon=round(spot.lon, 6), lat=round(spot.lat, 6),
            type=RequestType.REPORT, category=category, urgency=Urgency.NORMAL,
            attachments=[self._photo(worker)], self_handled=done)
        result = log_demand(self.session, data, worker, now=self.now,
                            ports=self.ports_for(self.session, self.now))
        self.counters.tickets += 1
        self.counters.patrols += 1
        self._actions(len(result.events))
        t = result.ticket
        case = Case(t, category, RequestType.REPORT, Urgency.NORMAL, "handle",
                    auto_dispatched=t.status == Status.DISPATCHED)
        if not fixed:
            yield from self._story(case)
            return
        self.counters.self_handled += 1
        lead = lead_assignment(t)
        assert lead is not None
        yield self._office(p.review_hours.draw(rng))  # 镇审核 of the worker's work
        holder = rng.choice(world.staff.handlers[lead.department_code])
        self.act(t, "review_delegated_accept", holder, DelegatedReviewPayload())
        yield self._office(p.review_hours.draw(rng))
        self.act(t, "review_accept", self._dispatcher(), NoPayload())

    def _photo(self, worker: Actor) -> int:
        """A photo the worker takes on patrol (a small JPEG), uploaded as the phone page does."""
        from io import BytesIO

        from PIL import Image, ImageDraw

        assert self.photos is not None
        rng = self.rng
        image = Image.new("RGB", (96, 72), tuple(rng.randrange(60, 200) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(4):
            x, y = rng.randrange(0, 80), rng.randrange(0, 56)
            draw.rectangle((x, y, x + rng.randrange(8, 30), y + rng.randrange(8, 20)),
                           fill=tuple(rng.randrange(0, 256) for _ in range(3)))
        out = BytesIO()
        image.save(out, format="JPEG", quality=80)
        photo = add_unfiled_attachment(self.session, worker, out.getvalue(), "patrol.jpg",
                                       storage_dir=self.photos, now=self.now)
        return photo.id

    def _plan_assessment(self, first: date) -> None:
        """The month before `first` is published on the first working day of this one."""
        day = first
        while not self._workdays.get(day, day.weekday() < 5):
            day += timedelta(days=1)
        at = datetime.combine(day, datetime.min.time(), tzinfo=LOCAL_TZ) + timedelta(
            hours=self.p.publish_hour, minutes=self.rng.uniform(0, 30))
        before = first - timedelta(days=1)
        if at < self.end and self.world.staff.supervisors:
            self._push(at, STEP, self._month(f"{before.year:04d}-{before.month:02d}"))

    def _month(self, month: str) -> Iterator[float | datetime]:
        """考核: the office publishes the month; departments with deductions appeal a ticket
        each within the window; the office accepts (re-publishing) or rejects each."""
        p, rng = self.p, self.rng
        yield 0.0
        self.session.flush()
        office = self._office_staff()
        published = publish(self.session, month, office, self.now)
        self._actions(1)
        deadline = appeal_deadline(self.session, published)
        rows = [r for r in published.snapshot["departments"]
                if r["deductions"] and self.world.staff.handlers.get(r["department"])]
        for row in rng.sample(rows, min(p.appeal_departments, len(rows))):
            numbers = sorted({n for d in row["deductions"] for n in d["tickets"]})
            self._advance(self._appeal(month, row["department"], rng.choice(numbers),
                                       deadline))

    def _appeal(self, month: str, department: str, number: str,
                deadline: datetime) -> Iterator[float | datetime]:
        """申诉 of one ticket by the department's handler, decided by the office."""
        p, rng = self.p, self.rng
        at = self._office(p.appeal_hours.draw(rng))
        yield min(at, deadline - timedelta(hours=1))
        handler = rng.choice(self.world.staff.handlers[department])
        self.session.flush()
        # What the department may still appeal: a re-publication since (another's accepted
        # appeal) recomputed the month with what happened after the first.
        latest = sorted(deduction_tickets(publications(self.session, month)[-1].snapshot,
                                          department))
        if not latest:
            return
        if number not in latest:
            number = rng.choice(latest)
        appeal = file_appeal(self.session, handler, {
            "month": month, "department": department, "ticket": number,
            "reason": rng.choice(APPEAL_REASONS), "attachments": []}, self.now)
        self._actions(1)
        yield self._office(p.appeal_decision_hours.draw(rng))
        accept = rng.random() < p.appeal_accept_share
        decide_appeal(self.session, self._office_staff(), appeal.id, accept,
                      APPEAL_DECISIONS[accept], self.now)
        self.counters.appeals += 1
        self._actions(1)
