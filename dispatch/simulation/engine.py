"""A realistic synthetic history (`hotline simulate`), made through the domain itself.

Every ticket comes in through `pipeline.intake` (with the county's grid routing), every change
goes through `lifecycle.perform` as the user whose job it is (operators, dispatchers, the
departments' handlers, the cells' grid workers, the 110 desk, the system), follow-up calls
through `contacts.log_contact`, the contacts that make no ticket through `contacts.log_contacts`
(each checked as `log_contact` checks it, written in one INSERT with their batch), SMS and
WeChat callback answers through `callbacks.record_citizen_answer`, and the production clock
sweep (`sweeps.sweep_clocks`) runs at the simulated time, so urges, overdue marks and
supervision happen as they do in production. The event log is therefore real: every figure
computed from it is a figure of this history.

The simulation is event-driven: a heap of (time, sequence, what) on a `ManualClock`; each
ticket's story is a generator that performs its next action and says when the one after is due.
Nothing sleeps. The sweep runs at the ticks of its period (`sweep_minutes`) at which a clock of
the history can step (known from the deadlines each dispatch sets) and after every local
midnight (supervision), not at every idle tick; it runs in a session of its own on the batch's
connection (its commits are savepoints: it sees the batch, and the batch goes on) and only the
tickets it touched are read again. Work is committed in batches (every `commit_every` actions
and at every local midnight, when the day's console events are numbered), so reference data is
read, and a ticket locked, once per batch; every `maintain_every` actions, at a midnight, the
tables it churns are vacuumed and analysed (PostgreSQL), so that a year's dead row versions do
not slow it down. One `random.Random(seed)` draws everything in a fixed order, so the same seed
on the same database gives the same history.

Nothing of the past reaches the outside or a live console: what the history owed (SMS
questionnaires and notices, 110 messages) is marked delivered in the transaction that owed it,
and the console events are numbered daily. A refused action is a bug of the simulation: the run
stops with `SimulationError`, its open batch is rolled back by the caller and the batches
committed before are a consistent, shorter history.

What is drawn, and from which stated distribution, is the `Parameters` dataclass
(`dispatch.simulation.parameters`); the presets are `seed_county` (a year of the seed county:
about 545,000 contacts and 58,000 tickets, with 办结率 ≈ 92 %, 回访率 ≈ 100 %, 满意率 ≈ 98 %),
`small` (a week, for tests and demos) and `recent` (the five weeks `make run` ends now, with a
finale: a hotspot forming over the last 80 minutes and a transfer to 110 left unanswered).
The grid comes in through ports: `Places` (points inside the county's cells, by street) and the
intake ports (locator and router); the package imports nothing outside `dispatch/`.

The package, from the ground up: `parameters` (what is drawn), `world` (the county: places,
staff, categories), `words` (what citizens and staff say; the draws), `report` (what a run
made, from the database), `clockwork` (the heap, batches, sweeps, `act`), `stories` (each
ticket's life after intake), and here the arrivals (demands and other contacts) that make
`Simulation`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dispatch.core.commands import (
    CitizenIn,
    DelegatedReviewPayload,
    NoPayload,
    TicketCreate,
    Transfer110Payload,
)
from dispatch.core.vocab import (
    Channel,
    ContactKind,
    RequestType,
    Status,
    Urgency,
)
from dispatch.intake.contacts import ContactCreate, log_contact
from dispatch.intake.patrol import SelfHandled, TicketIntake, log_demand
from dispatch.intake.pipeline import intake
from dispatch.simulation.clockwork import (
    CONTACT,
    DAY,
    DEMAND,
    STAGED,
    STEP,
    Case,
)
from dispatch.simulation.parameters import (
    day_weight,
)
from dispatch.simulation.report import SimulationReport, summarise
from dispatch.simulation.stories import Stories
from dispatch.simulation.words import (
    APPEAL_DECISIONS,
    APPEAL_REASONS,
    DEMANDS,
    PATROL_FINDINGS,
    PATROL_FIXES,
    mobile,
    openid,
    person,
    poisson,
    weighted,
)
from dispatch.simulation.world import (
    OPEN311_ACTOR,
    POLICE_DESK,
    WEB_ACTOR,
    WECHAT_ACTOR,
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

# The finale's forming hotspot: one matter many neighbours call about (占道经营 where the
# county has it), and what they say.
HOTSPOT_CATEGORY = "urban.appearance.street_vending"
HOTSPOT_TEXTS = (
    "门口又有一排摊贩占道经营，人行道全堵死了，行人只能走机动车道。",
    "路口早市摊点越摆越多，占了半条路，车过不去，请尽快来处理。",
    "商贩在人行道上支摊卖菜，垃圾扔一地，跟他们说了也不听。",
    "流动摊贩把路边占满了，早上送孩子上学都挤不过去，太危险了。",
    "占道经营的摊位堵住了消防通道，万一出事怎么办，请城管来管管。",
)
FINALE_SPAN = timedelta(minutes=80)  # the hotspot's demands come over the period's last 80 min
FINALE_QUIET = timedelta(minutes=8)  # … the last of them this long before the end


@dataclass(frozen=True)
class Staged:
    """A demand of the finale: a hotspot's (at a point, of a category) or a police matter to
    be left with 110 unanswered."""

    kind: str  # hotspot | police_pending
    category: str
    lon: float | None = None
    lat: float | None = None
    address: str | None = None
    text: str = ""


class Simulation(Stories):
    """One run: `Simulation(...).run()` makes the history and returns its report."""

    # ------------------------------------------------------------ arrivals

    def _plan_day(self, day: date) -> None:
        """Draw the day's demands and other contacts at their hours; plan the next day."""
        p = self.p
        lam = p.tickets_per_day * day_weight(p, day, self._workdays.get(day))
        tickets = poisson(self.rng, lam)
        others = poisson(self.rng, lam * max(p.contacts_per_ticket - 1, 0))
        midnight = datetime.combine(day, datetime.min.time(), tzinfo=LOCAL_TZ)
        for kind, n in ((DEMAND, tickets), (CONTACT, others)):
            for _ in range(n):
                hour = self.rng.choices(self._hours, weights=p.hour_weights)[0]
                at = midnight + timedelta(hours=hour, seconds=self.rng.uniform(0, 3600))
                if self.start <= at < self.end:
                    self._push(
                        at, kind, weighted(self.rng, p.contact_mix) if kind == CONTACT else None
                    )
        if self.photos is not None and self.world.crew:  # 巡查上报 in the working hours
            opens, closes = p.office_hours
            for _ in range(poisson(self.rng, lam * p.patrol_share)):
                at = midnight + timedelta(hours=self.rng.uniform(opens, closes))
                if self.start <= at < self.end:
                    self._push(at, STEP, self._patrol())
        if day.day == 1 and self.start < midnight:  # the month before is the history's
            self._plan_assessment(day)
        self._push(midnight + timedelta(days=1), DAY, day + timedelta(days=1))
        # Supervision comes due as a local day ends (overdue by N working days): sweep then.
        self._plan_sweep(max(midnight, self.now))

    def _contact(self, kind: str) -> None:
        """A contact that makes no ticket: a follow-up on an open ticket, or an enquiry, a
        silent, prank, hang-up or wrong-number call, logged by an operator."""
        rng = self.rng
        operator = rng.choice(self.world.staff.operators)
        case = self._pick_open() if kind == ContactKind.FOLLOW_UP else None
        if kind == ContactKind.FOLLOW_UP and case is None:
            kind = ContactKind.ENQUIRY
        if case is not None:
            body = ContactCreate(
                channel=Channel.PHONE,
                kind=ContactKind.FOLLOW_UP,
                phone=case.ticket.citizen_phone,
                ticket=case.ticket.number,
                note="询问办理进度",
            )
            log_contact(
                self.session,
                body,
                actor=operator,
                now=self.now,
                directory=self.directory,
                ticket=case.ticket,
            )
            self._actions(1)
        else:
            channel = (
                Channel.WECHAT
                if kind == ContactKind.ENQUIRY and rng.random() < self.p.enquiry_wechat_share
                else Channel.PHONE
            )
            body = ContactCreate(
                channel=channel,
                kind=ContactKind(kind),
                phone=mobile(rng) if channel == Channel.PHONE else None,
            )
            self._logged.append((body, operator, self.now))  # written with the batch
        self.counters.contacts += 1
        self._pending += 1

    def _demand(self) -> None:
        """A new demand: drawn, logged through intake, and its story started."""
        p, rng, now = self.p, self.rng, self.now
        channel = weighted(rng, p.channel_mix)
        parent = self._pick_open() if rng.random() < p.repeat_share else None
        local_month = now.astimezone(LOCAL_TZ).month - 1
        police = (
            channel in (Channel.PHONE, Channel.WECHAT)
            and parent is None
            and rng.random() < p.police_share
        )
        if parent is not None:
            category = parent.category
            top = category.split(".", 1)[0]
        else:
            weights = {
                c: w * p.category_seasons.get(c, (1.0,) * 12)[local_month]
                for c, w in p.category_mix.items()
                if c in self.world.leaves
            }
            top = "public_security" if police else weighted(rng, weights)
            leaves = self.world.leaves[top]
            if police:
                leaves = tuple(c for c in leaves if ".public_order" in c) or leaves
            category = rng.choice(leaves)
        rtype = weighted(rng, p.type_mix)
        urgency = Urgency.URGENT if police else weighted(rng, p.urgency_mix)

        # Who and where.
        same_caller = parent is not None and rng.random() < p.repeat_same_caller_share
        if same_caller and parent is not None:
            phone, oid = parent.ticket.citizen_phone, parent.ticket.citizen_openid
            name = parent.ticket.citizen_name
        else:
            phone, oid, name = self._caller(channel)
        anonymous = rng.random() < p.anonymous_share and parent is None
        confidential = rng.random() < p.confidential_share
        direct = confidential and rng.random() < p.direct_contact_share
        near = parent.ticket if parent is not None else None
        if near is not None and near.lon is not None and near.lat is not None:
            lon = near.lon + rng.uniform(-0.0008, 0.0008)
            lat = near.lat + rng.uniform(-0.0006, 0.0006)
            address = near.address
        else:
            street = rng.choices(self._streets, weights=self._street_w)[0]
            spot = self.world.places.spot(street, rng)
            lon, lat, address = spot.lon, spot.lat, spot.address
        text = f"{address or ''}{rng.choice(DEMANDS.get(top, DEMANDS['other']))}。"
        classified = channel == Channel.PHONE
        data = TicketCreate(
            channel=Channel(channel),
            text=text,
            citizen=CitizenIn(
                name=name,
                phone=phone,
                openid=oid,
                anonymous=anonymous,
                confidential=confidential,
                direct_contact=direct,
            ),
            address=address,
            lon=round(lon, 6),
            lat=round(lat, 6),
            type=RequestType(rtype) if classified else None,
            category=category if classified else None,
            urgency=Urgency(urgency) if classified else None,
            police_matter=True if police else None,
        )
        actor, ref = self._intake_actor(channel)
        result = intake(
            self.session,
            data,
            actor,
            now=now,
            ports=self.ports_for(self.session, now),
            external_ref=ref,
            contact_external_id=ref,
        )
        self.counters.tickets += 1
        self.counters.contacts += 1
        self._actions(1)

        # What becomes of it.
        auto = result.ticket.status == Status.DISPATCHED  # 智能派单 at intake
        if result.ticket.alarm_raised_at is not None:  # an emergency: the console's alarm
            self._advance(self._alarm(result.ticket))
        if auto:
            path = "handle"
        elif rng.random() < p.void_share and parent is None and channel != Channel.POLICE110:
            path = "void"
        elif police:
            path = "police"
        elif (
            channel in (Channel.PHONE, Channel.WECHAT)
            and parent is None
            and rng.random() < p.direct_answer.get(rtype, 0.0)
        ):
            path = "answer"
        else:
            path = "handle"
        found = {r.number for r in result.repeats}
        merge_into = (
            parent
            if parent is not None and parent.ticket.number in found and rng.random() < p.merge_share
            else None
        )
        case = Case(result.ticket, category, rtype, urgency, path, None if auto else merge_into,
                    classified or auto, auto_dispatched=auto)
        merge_into = case.parent
        if path == "handle" and merge_into is None:
            self._remember(case)
        self._advance(self._story(case))

    def _caller(self, channel: str) -> tuple[str | None, str | None, str | None]:
        rng, p = self.rng, self.p
        name = person(rng) if rng.random() < p.named_share else None
        if channel == Channel.WECHAT:
            phone = mobile(rng) if rng.random() < p.wechat_phone_share else None
            return phone, openid(rng), name
        if channel == Channel.OPEN311 and rng.random() >= p.open311_phone_share:
            return None, None, name
        return mobile(rng), None, name

    def _intake_actor(self, channel: str) -> tuple[Actor, str | None]:
        if channel == Channel.PHONE:
            return self.rng.choice(self.world.staff.operators), None
        if channel == Channel.WECHAT:
            return WECHAT_ACTOR, None
        if channel == Channel.OPEN311:
            return OPEN311_ACTOR, None
        if channel == Channel.WEB:
            return WEB_ACTOR, None
        return POLICE_DESK, self._incident()

    # ------------------------------------------------------------ grid governance

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

    # ------------------------------------------------------------ the finale

    def _plan_finale(self) -> None:
        """Stage what the period ends on (`finale_hotspot`, `finale_police_pending`): the
        demands of a hotspot forming over its last 80 minutes, and police matters transferred
        to 110 a few minutes before the end that 110 has not answered yet."""
        p, rng = self.p, self.rng
        if p.finale_hotspot > 0:
            urban = self.world.leaves.get("urban", ())
            category = HOTSPOT_CATEGORY if HOTSPOT_CATEGORY in urban else (
                urban or sorted(self.world.leaves.values())[0])[0]
            street = max(self._streets, key=lambda s: (p.street_weights.get(
                s, p.street_weight_default), s))
            centre = self.world.places.spot(street, rng)
            first = max(self.start, self.end - FINALE_SPAN)
            step = (self.end - FINALE_QUIET - first) / max(p.finale_hotspot - 1, 1)
            for n in range(p.finale_hotspot):
                at = first + step * n + timedelta(seconds=rng.uniform(-90, 90))
                self._push(max(at, self.start), STAGED, Staged(
                    "hotspot", category,
                    round(centre.lon + rng.uniform(-0.0008, 0.0008), 6),
                    round(centre.lat + rng.uniform(-0.0006, 0.0006), 6),
                    centre.address, HOTSPOT_TEXTS[n % len(HOTSPOT_TEXTS)]))
        police = self.world.leaves.get("public_security", ())
        order = tuple(c for c in police if ".public_order" in c) or police
        for n in range(p.finale_police_pending if order else 0):
            at = self.end - timedelta(minutes=7 + 4 * n)
            self._push(max(at, self.start), STAGED, Staged("police_pending", order[0]))

    def _staged(self, what: Staged) -> None:
        """A demand of the finale, logged by an operator from a phone call."""
        rng = self.rng
        police = what.kind == "police_pending"
        lon: float | None
        lat: float | None
        address: str | None
        if police:
            spot = self.world.places.spot(rng.choices(self._streets, weights=self._street_w)[0],
                                          rng)
            lon, lat, address = spot.lon, spot.lat, spot.address
            text = f"{address or ''}{rng.choice(DEMANDS['public_security'])}。"
        else:
            lon, lat, address = what.lon, what.lat, what.address
            text = f"{address or ''}{what.text}"
        phone, oid, name = self._caller(Channel.PHONE)
        urgency = Urgency.URGENT if police else Urgency.NORMAL
        rtype = RequestType.REPORT if police else RequestType.COMPLAINT
        data = TicketCreate(
            channel=Channel.PHONE, text=text,
            citizen=CitizenIn(name=name, phone=phone, openid=oid),
            address=address, lon=lon, lat=lat, type=rtype, category=what.category,
            urgency=urgency, police_matter=True if police else None,
        )
        result = intake(self.session, data, self.world.staff.operators[0], now=self.now,
                        ports=self.ports_for(self.session, self.now))
        self.counters.tickets += 1
        self.counters.contacts += 1
        self._actions(1)
        t = result.ticket
        if t.alarm_raised_at is not None:
            self._advance(self._alarm(t))
        case = Case(t, what.category, rtype, urgency, "police" if police else "handle",
                    classified=True, auto_dispatched=t.status == Status.DISPATCHED)
        if not police:
            self._remember(case)  # open: follow-up calls may come about it
        self._advance(self._unanswered(case) if police else self._story(case))

    def _unanswered(self, case: Case) -> Iterator[float]:
        """A police matter the operator transfers to 110 during the call; 110 has not answered
        when the period ends (the desk sees it waiting)."""
        yield 2 / 60
        self.act(case.ticket, "transfer_110", self.world.staff.operators[0],
                 Transfer110Payload(reason="涉警事项，转110处置"))

    # ------------------------------------------------------------ the report

    def report(self, wall_seconds: float) -> SimulationReport:
        """Count what this run made, from the database."""
        return summarise(
            self.session,
            self._first_ticket,
            self._first_contact,
            preset=self.p.name,
            seed=self.seed,
            scale=self.scale,
            start=self.start,
            end=self.end,
            wall_seconds=wall_seconds,
            counters=self.counters,
        )


__all__ = ["Simulation"]
