"""What every simulated story leans on, and the story after a ticket is reviewed: the waits in
office hours, the staff on duty, and the citizen's answer to the questionnaire (SMS or WeChat)
or to an operator's callback (three tries, then unreachable)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Literal

from dispatch.core.commands import CallbackPayload
from dispatch.core.vocab import Channel, ContactKind, Satisfaction, Status, Urgency
from dispatch.intake.contacts import record_contact
from dispatch.outbound.callbacks import answer_note, record_citizen_answer
from dispatch.simulation.clockwork import Case, Clockwork
from dispatch.simulation.parameters import Lognormal
from dispatch.simulation.words import weighted
from dispatch.simulation.world import SimulationError
from dispatch.tickets.calendar import LOCAL_TZ
from dispatch.tickets.lifecycle import Actor


class Aftercare(Clockwork):
    """Waits and staff for every story; the callback story after review."""

    def _minutes(self, dist: Lognormal) -> float:
        return dist.draw(self.rng) / 60

    def _office(self, hours: float, urgency: str = Urgency.NORMAL) -> datetime:
        """`hours` from now, moved into office hours for normal-urgency work."""
        at = self.now + timedelta(hours=hours)
        if urgency != Urgency.NORMAL:
            return at
        opens, closes = self.p.office_hours
        local = at.astimezone(LOCAL_TZ)
        if opens <= local.hour < closes:
            return at
        day = local.date() + timedelta(days=1) if local.hour >= closes else local.date()
        start = datetime.combine(day, datetime.min.time(), tzinfo=LOCAL_TZ)
        return start + timedelta(hours=opens, minutes=self.rng.uniform(0, 90))

    def _dispatcher(self) -> Actor:
        return self.rng.choice(self.world.staff.dispatchers)

    def _operator(self) -> Actor:
        return self.rng.choice(self.world.staff.operators)

    def _answer(self, round_no: int) -> tuple[str, bool]:
        p, rng = self.p, self.rng
        mix = dict(p.satisfaction_mix)
        dissatisfied = Satisfaction.DISSATISFIED
        mix[dissatisfied] = mix.get(dissatisfied, 0.0) * p.reopen_dissatisfied_factor ** (
            round_no - 1
        )
        satisfaction = weighted(rng, mix)
        resolved = rng.random() < p.resolved_given.get(satisfaction, 1.0)
        return satisfaction, resolved

    def _callback(self, case: Case) -> Iterator[float | datetime]:
        """The citizen answers the SMS or WeChat questionnaire, or an operator calls (three
        tries, then unreachable)."""
        p, rng, t = self.p, self.rng, case.ticket
        questionnaire = bool(t.citizen_phone) and (not t.confidential or t.direct_contact)
        wechat_only = not t.citizen_phone and bool(t.citizen_openid)
        if (questionnaire and rng.random() < p.sms_reply_share) or (
            wechat_only and rng.random() < p.wechat_reply_share
        ):
            yield p.sms_reply_hours.draw(rng)
            if t.status == Status.REVIEWED and self._reply(
                case, "wechat" if wechat_only else "sms"
            ):
                return
        operator = self._operator()
        for attempt in range(3):
            wait = p.callback_hours if attempt == 0 else p.callback_retry_hours
            yield self._office(wait.draw(rng))
            if t.status != Status.REVIEWED:
                return
            via: Literal["wechat", "phone"] = "wechat" if wechat_only else "phone"
            if rng.random() < p.reach_share:
                satisfaction, resolved = self._answer(case.rounds)
                self.act(
                    t,
                    "callback",
                    operator,
                    CallbackPayload(
                        reached=True,
                        satisfaction=Satisfaction(satisfaction),
                        resolved=resolved,
                        via=via,
                    ),
                )
                return
            self.act(t, "callback", operator, CallbackPayload(reached=False, via=via))

    def _reply(self, case: Case, via: Literal["sms", "wechat"]) -> bool:
        """The citizen's questionnaire reply, recorded as the SMS and WeChat hooks do."""
        t = case.ticket
        satisfaction, resolved = self._answer(case.rounds)
        digit = {
            Satisfaction.SATISFIED: "1",
            Satisfaction.BASICALLY_SATISFIED: "2",
            Satisfaction.DISSATISFIED: "3",
        }[Satisfaction(satisfaction)]
        text = f"工单{t.number}：{digit}，{'4' if resolved else '5'}"
        # The citizen answers by SMS from their phone, or by WeChat from their OpenID.
        sender = {"phone": t.citizen_phone} if via == "sms" else {"openid": t.citizen_openid}
        outcome = record_citizen_answer(
            self.session, text=text, channel=via, now=self.now, directory=self.directory, **sender
        )
        record_contact(
            self.session,
            channel=Channel.PHONE if via == "sms" else Channel.WECHAT,
            kind=ContactKind.FOLLOW_UP,
            received_at=self.now,
            actor_id=None,
            ticket=outcome.ticket,
            note=answer_note(text),
            **sender,
        )
        self.counters.contacts += 1
        self._actions(1)
        if outcome.recorded and outcome.ticket is not t:
            raise SimulationError(
                f"the reply quoting {t.number} was recorded on "
                f"{outcome.ticket.number if outcome.ticket else None}"
            )
        return outcome.recorded
