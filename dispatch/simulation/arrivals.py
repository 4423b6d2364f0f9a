"""What arrives in a simulated history: each day's demands and the contacts that make no
ticket, at hours drawn from `Parameters`; a demand is logged through intake as the channel's
actor and its story started."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from dispatch.core.commands import CitizenIn, TicketCreate
from dispatch.core.vocab import Channel, ContactKind, RequestType, Status, Urgency
from dispatch.intake.contacts import ContactCreate, log_contact
from dispatch.intake.pipeline import intake
from dispatch.simulation.clockwork import CONTACT, DAY, DEMAND, STEP, Case
from dispatch.simulation.governance import Governance
from dispatch.simulation.parameters import day_weight
from dispatch.simulation.words import DEMANDS, mobile, openid, person, poisson, weighted
from dispatch.simulation.world import OPEN311_ACTOR, POLICE_DESK, WEB_ACTOR, WECHAT_ACTOR
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.lifecycle import Actor


class Arrivals(Governance):
    """The day's plan, and each demand and contact as it arrives."""

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
