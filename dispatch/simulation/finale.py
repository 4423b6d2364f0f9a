"""What a period ends on (the `recent` preset's finale): a hotspot forming over its last 80
minutes, and police matters transferred to 110 a few minutes before the end that 110 has
not answered yet."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from dispatch.core.commands import CitizenIn, TicketCreate, Transfer110Payload
from dispatch.core.vocab import Channel, RequestType, Status, Urgency
from dispatch.intake.pipeline import intake
from dispatch.simulation.arrivals import Arrivals
from dispatch.simulation.clockwork import STAGED, Case
from dispatch.simulation.words import DEMANDS

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


class Finale(Arrivals):
    """The staged demands the period ends on."""

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
